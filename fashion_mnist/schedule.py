"""The learning-rate schedules that train.schedule names."""

import keras


def learning_rate_schedule(
    learning_rate: float, *, schedule: str, steps_per_epoch: int, epochs: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """A constant rate, or one epoch of linear warm-up followed by cosine decay to zero at the last step."""
    if schedule == "constant":
        return learning_rate
    if schedule != "cosine":
        raise ValueError(f"unknown schedule {schedule!r}; expected constant or cosine")
    warmup_steps = steps_per_epoch if epochs > 1 else 0
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else learning_rate,
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
        decay_steps=steps_per_epoch * epochs - warmup_steps,
    )
