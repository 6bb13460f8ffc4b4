python ../../../src/TensorflowUNetEvaluator.py ./train_eval_infer.config
