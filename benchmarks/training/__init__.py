"""The training benchmark's parts: workloads, the authors' baseline, our loop, the report.

``python benchmarks/bench_training.py`` ties them together. Everything here calls the
package's public entry points only (``dmlstudy.train.train``, ``TrainSettings``,
``make_optimizer``, the loss functions and the samplers): nothing is patched.
"""
