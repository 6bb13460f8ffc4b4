python ../../../src/TensorflowUNetExporter.py ./train_eval_infer.config
