python ../../../src/TensorflowUNetModelInspector.py ./train_eval_infer.config
