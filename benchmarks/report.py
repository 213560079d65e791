"""The benchmark's report as the performance page's tables, in markdown."""


def markdown(report: dict) -> str:
    """The report as the performance page's tables."""
    lines = [
        f"Measured {report['date']} on {report['machine']['cpu']}, {report['machine']['cores']} cores "
        f"(AVX512_BF16: {report['machine']['avx512_bf16']}, AMX: {report['machine']['amx_bf16']}, "
        f"GPUs: {', '.join(report['machine']['gpus']) or 'none'}), Keras {report['machine']['keras']} "
        f"on {report['machine']['backend']}, TensorFlow {report['machine']['tensorflow-cpu']}"
        f"{', quick mode on tiny data' if report['quick'] else ''}.",
        "",
        f"The loops ran one after the other, {report['epoch_throughput'][0]['epochs_timed'] + 1} epochs each; the "
        "first epoch, which includes tracing, is left out. Other work on the machine only slows an epoch down, "
        "so the fastest epoch is the speed without it.",
        "",
        "| training loop, blog model | s per epoch (median) | speed-up over the blog's loop (median) "
        "| fastest epoch, s | speed-up (fastest epochs) | s to 0.92 val. accuracy | best val. accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["epoch_throughput"]:
        reached = row["seconds_to_0.92_val_accuracy"]
        lines.append(
            f"| {row['variant']} | {row['seconds_per_epoch']} | {row['speedup_over_blog_loop']}× "
            f"| {row['fastest_epoch_seconds']} | {row['fastest_speedup_over_blog_loop']}× "
            f"| {reached if reached is not None else 'not reached'} | {row['best_val_accuracy']} |"
        )
    strong = report["strong_model"]
    reached = strong["seconds_to_target"]
    lines += [
        "",
        f"- {strong['variant']}: {strong['seconds_per_epoch']} s per epoch; validation accuracy "
        f"{strong['target_val_accuracy']} "
        + (f"reached after {reached} s ({strong['epochs_run']} epochs)." if reached else "not reached")
        + f" (best {strong['best_val_accuracy']}).",
    ]
    costs = report["pipeline"]
    lines += ["", "| stage | wall time, s | peak memory, MB |", "|---|---|---|"]
    lines += [f"| {name} | {stage['seconds']} | {stage['peak_memory_mb']} |" for name, stage in costs["stages"].items()]
    lines += [
        "",
        f"- No-op `dvc repro --all-pipelines`: {costs['no_op_dvc_repro_seconds']} s.",
        f"- `dvc pull` of both models into a fresh clone: {costs['dvc_pull_models_seconds']} s, against "
        f"{costs['training_seconds']} s of training (train and final-train): "
        f"{costs['pull_speedup_over_training']}× faster.",
    ]
    lines += [
        f"- Inference with `{row['model']}`: {row['images_per_second']:,} images per second in batches of 1,000, "
        f"{row['single_image_milliseconds']} ms for one image."
        for row in report["inference"]
    ]
    return "\n".join(lines)
