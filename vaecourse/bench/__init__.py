"""Benchmarks: training speed, test log-likelihood, chapter run times and thread settings.

Four commands, each printing a table (figures are printed, never asserted)::

    python -m vaecourse.bench speed   [--device cpu] [--batch-sizes 128 512] [--seconds 1] [--repeats 7]
    python -m vaecourse.bench quality --model gaussian|binary --minutes 20 [--eval-samples 5000]
    python -m vaecourse.bench book    [--mode quick|full|both] [--chapters 00_data 03_gaussian_vae]
    python -m vaecourse.bench threads [--settings "torch default" "1 thread" ...] [--rounds 3]

One module each: :mod:`~vaecourse.bench.speed` (the course's loop against the matmul ceiling),
:mod:`~vaecourse.bench.quality` (the best recipes against published figures),
:mod:`~vaecourse.bench.book` (seconds per chapter) and :mod:`~vaecourse.bench.threads`
(thread settings on a quiet and on a busy CPU). Every benchmark runs under the course's
thread policy (:mod:`vaecourse.threads`, applied by ``import vaecourse``) unless ``--threads N``
is given.
"""
