"""Scores the best model on a held-out split: `2.evaluate` (docs/differences.md, I1, I2, I9).

Usage: python TensorflowUNetEvaluator.py [CONFIG] [--print-config] [--quiet] [--debug]
(CONFIG defaults to ./train_eval_infer.config)

Evaluates the section `[model] evaluation` names (default `test`) with
`[eval] batch_size` (default 4) and writes `./evaluation.csv`: `loss,<v>`
then `<metric>,<v>` per compiled metric in config order, values rounded to 4
places, no header. With `[model] num_classes = N > 1`, lines
`dice_coef_class<k>,<v>` for the foreground classes k = 1…N−1 follow, each
computed as `dice_coef` is (batch Dice, averaged over batches).

Then one batched prediction pass gives the per-image and per-volume metrics,
their summary and the worst cases (CaseEvaluator.py: evaluation_per_image.csv,
evaluation_per_volume.csv, evaluation_summary.json, evaluation_worst/), and
EvaluationReport.py puts everything on one self-contained page,
./evaluation_report.html.
"""

import sys

import losses
from atomic import write_text
from CaseEvaluator import CaseEvaluator
from cli import run
from ConfigParser import ConfigParser, load_config
from data_pipeline import PairReader, make_dataset, reraise_data_errors
from EvaluationReport import EvaluationReport
from ImageMaskDataset import ImageMaskDataset
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

EVALUATION_FILE = "./evaluation.csv"


class TensorflowUNetEvaluator:
    """Evaluates the trained model of a config.

    Args:
        config: a parsed `ConfigParser` or the path of a config file.
    """

    def __init__(self, config):
        self.config: ConfigParser = load_config(config)
        self.section = self.config.get(ConfigParser.MODEL, "evaluation")
        self.batch_size = self.config.get(ConfigParser.EVAL, "batch_size")
        self.class_metrics = _class_metrics(self.config)

    def evaluate(self) -> dict[str, float]:
        """Writes ./evaluation.csv, the per-case files and the report; returns the scores by name."""
        dataset = ImageMaskDataset(self.config)
        pairs = dataset.pairs(self.section)
        dataset.check_split(pairs, self.section)
        builder = create_model(self.config, extra_metrics=self.class_metrics)
        load_best_weights(builder.model, self.config)
        model = builder.evaluation_model()
        cases = CaseEvaluator(self.config, dataset, model, self.section)  # checks its keys before the long pass
        reader = PairReader(dataset)
        print(f"=== evaluate [{self.section}] {len(pairs)} images, batch_size {self.batch_size}")
        with reraise_data_errors(reader):
            scores = model.evaluate(
                make_dataset(pairs, reader, self.batch_size),
                return_dict=True,
                verbose=1 if sys.stdout.isatty() else 2,
            )
        rounded = self.write(scores)
        cases.evaluate(pairs)
        EvaluationReport(self.config, cases.worst_paths).write()
        return rounded

    def write(self, scores: dict) -> dict[str, float]:
        names = ["loss"] + [
            losses.get(name).__name__ for name in self.config.get(ConfigParser.MODEL, "metrics")
        ] + [metric.__name__ for metric in self.class_metrics]
        rounded = {name: round(float(scores[name]), 4) for name in dict.fromkeys(names)}
        lines = [f"{name},{value}" for name, value in rounded.items()]
        values = list(rounded.values())
        print(f"Test loss    :{values[0]}")
        if len(values) > 1:
            print(f"Test accuracy:{values[1]}")
        for name, value in rounded.items():
            print(f"--- Evaluation  metric:{name}  score:{value}")
        write_text(EVALUATION_FILE, "\n".join(lines) + "\n")
        print(f"--- Saved {EVALUATION_FILE}")
        return rounded


def _class_metrics(config: ConfigParser) -> list:
    """Per-class Dice of the foreground classes 1…N−1 (none for one class)."""
    classes = config.get(ConfigParser.MODEL, "num_classes")
    return [losses.class_dice_coef(k) for k in range(1, classes)]


def main(argv: list[str]) -> int:
    return run(lambda config: TensorflowUNetEvaluator(config).evaluate(), argv, "TensorflowUNetEvaluator.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
