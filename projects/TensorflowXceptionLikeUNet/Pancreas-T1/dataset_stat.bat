python ../../../src/DatasetStatistics.py ../../../dataset/Pancreas-T1
