"""Stage preprocess: parse and validate the IDX files, write the train and test splits as .npz."""

from fashion_mnist import paths
from fashion_mnist.dataset import class_count_table, save_split, stratified_subset
from fashion_mnist.files import write_csv
from fashion_mnist.idx import read_split
from fashion_mnist.params import load_params
from fashion_mnist.stage import run_stage


def main() -> None:
    """Parse, validate and subset the raw files into the prepared splits."""
    params = load_params(["base", "preprocess"])
    train_images, train_labels = read_split(paths.TRAIN_IMAGES_FILE, paths.TRAIN_LABELS_FILE)
    test_images, test_labels = read_split(paths.TEST_IMAGES_FILE, paths.TEST_LABELS_FILE)
    train_images, train_labels = stratified_subset(
        train_images, train_labels, size=params["preprocess"]["max_train_samples"], seed=params["base"]["seed"]
    )
    save_split(paths.TRAIN_DATA, images=train_images, labels=train_labels)
    save_split(paths.TEST_DATA, images=test_images, labels=test_labels)
    write_csv(paths.DATA_REPORT, class_count_table(train_labels, test_labels))
    print(f"train: {train_images.shape} images, test: {test_images.shape} images")


if __name__ == "__main__":
    run_stage(main)
