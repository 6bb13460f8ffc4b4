@echo off
rem Cross-validation by patient (src\CrossValidator.py), from any folder:
rem   scripts\cross_validate.bat PROJECT\train_eval_infer.config K [DATA_ROOT] [--debug]
rem DATA_ROOT: the folder "generator\split_master.py MASTER DATA_ROOT --folds K" wrote.
python "%~dp0..\src\CrossValidator.py" %*
