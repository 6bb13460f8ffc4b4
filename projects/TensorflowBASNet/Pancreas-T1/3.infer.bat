python ../../../src/TensorflowUNetInferencer.py ./train_eval_infer.config
