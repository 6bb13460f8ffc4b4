python ../../../src/TensorflowUNetTiledInferencer.py ./train_eval_infer.config
