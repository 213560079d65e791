"""Stage final-train: retrain on 100% of the training set for the steps validation chose.

It runs after every decision has been made, so it refuses to run inside a DVC experiment.
"""

from fashion_mnist import paths
from fashion_mnist.backend import cache_compilations, cap_instruction_set, make_deterministic, set_precision
from fashion_mnist.checkpoint import clear_checkpoint
from fashion_mnist.dataset import load_split
from fashion_mnist.files import write_json
from fashion_mnist.history import read_validated_steps
from fashion_mnist.identity import library_versions
from fashion_mnist.model import build_model
from fashion_mnist.params import load_params
from fashion_mnist.progress import epoch_logger
from fashion_mnist.saving import save_model
from fashion_mnist.stage import TrainingClock, check_backend, refuse_inside_experiment, run_stage
from fashion_mnist.training import train_model, training_arguments

CHECKPOINT_DIR = paths.CHECKPOINTS_DIR / "final-train"


def main() -> None:
    """Retrain with the train stage's hyperparameters on every training image; save the model to ship."""
    refuse_inside_experiment("final-train")
    params = load_params(["base", "model", "train", "final"])
    seed, train = params["base"]["seed"], params["train"]
    check_backend(train["backend"])
    print(f"instruction set: {cap_instruction_set(train['cpu_isa'])}")
    epochs, epoch_steps, schedule_epochs = params["final"]["epochs"], None, None
    if epochs == "auto":
        # The validated run's steps and learning rates, one for one: its epochs were shorter, on 80% of the images.
        validated = read_validated_steps(paths.BEST_EPOCH)
        epochs, epoch_steps = validated["best_epoch"], validated["steps_per_epoch"]
        schedule_epochs = validated["schedule_epochs"]
        print(
            f"final.epochs is auto: the {epochs} x {epoch_steps} steps up to train's best epoch, on its schedule "
            f"of {schedule_epochs} epochs"
        )
    make_deterministic(seed)
    cache_compilations(paths.COMPILATION_CACHE_DIR)
    policy = set_precision(train["precision"])
    images, labels = load_split(paths.TRAIN_DATA)
    print(f"retraining on all {len(labels)} training images for {epochs} epochs, in {policy}")
    model = build_model(**params["model"])

    clock = TrainingClock()
    with epoch_logger(paths.FINAL_TRAIN_REPORTS) as log_epoch:
        history = train_model(
            model,
            images=images,
            labels=labels,
            validation_data=None,  # Every training image trains; the test set is scored by final-evaluate, once.
            epochs=epochs,
            **training_arguments(train),
            seed=seed,
            checkpoint_dir=CHECKPOINT_DIR,
            epoch_steps=epoch_steps,
            schedule_epochs=schedule_epochs,
            on_epoch=clock.watch(log_epoch),
        )
    timing = clock.timing()
    seconds = timing["train_seconds"]

    save_model(model, paths.FINAL_MODEL)
    write_json(paths.FINAL_ENVIRONMENT, {"precision": policy, **library_versions()})
    write_json(paths.FINAL_TIMING, timing)
    clear_checkpoint(CHECKPOINT_DIR)
    accuracy = history["accuracy"].iloc[-1]
    steps = f"{epoch_steps} steps" if epoch_steps else "one pass"
    print(f"{paths.FINAL_MODEL}: {epochs} epochs of {steps}, training accuracy {accuracy:.4f}; {seconds:.0f} s")


if __name__ == "__main__":
    run_stage(main)
