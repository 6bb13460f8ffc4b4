python ../../../src/LineGraphPlotter.py ./train_eval_infer.config
