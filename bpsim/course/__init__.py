"""bpsim.course: what belongs to one notebook of the series, one module per notebook.

The naming rule: notebook ``NN-some-title.ipynb`` calls ``bpsim.course.some_title`` (the number
dropped, dashes as underscores). Each module calls the library (:mod:`bpsim`) and the figures
(:mod:`bpsim.viz`) and adds only what its notebook needs: its runs, its sentences, its figures and
its dashboard (named as :mod:`bpsim.viz.dashboard` says). :mod:`.prediction` checks a learner's
guess and serves every notebook; :mod:`.warmup` compiles, ahead of the first run, every compiled
path the notebooks take (``tasks.py lab`` starts it in the background).

========================  ============================================
notebook                  module
========================  ============================================
01-the-scenario           :mod:`.the_scenario`
02-strategies             :mod:`.strategies`
03-micro-challenge        :mod:`.micro_challenge`
04-openai-outage          :mod:`.openai_outage`
05-adaptive-challenge     :mod:`.adaptive_challenge`
06-live-system            :mod:`bpsim.live.harness` (the live programs' own wing)
07-clients-that-give-up   :mod:`.clients_that_give_up`
========================  ============================================
"""
