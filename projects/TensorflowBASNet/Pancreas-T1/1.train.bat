python ../../../src/TensorflowUNetTrainer.py ./train_eval_infer.config
