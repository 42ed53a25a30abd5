"""GRPO with TRL on a tiny model built on this machine, rewarded by pytest-rlgrade.

Nothing is downloaded: the tokenizer is trained here on the task's own text, the model is a
two-layer Llama built from a config with random weights. A randomly initialised model never writes
a fenced code block, so it is first taught the answer format with a few supervised steps on a mix
of right and wrong answers (one fully right, others with one or two functions wrong, one with no
code at all). GRPOTrainer then samples completions, and
``pytest_rlgrade.integrations.trl.reward_function`` grades every batch through one warm Grader,
in the sandbox, against ``tasks/tiny_math`` beside this file.

Run it in an environment with torch, transformers and trl besides pytest-rlgrade (never the
grading environment itself)::

    python -m venv /work/trlvenv
    /work/trlvenv/bin/pip install torch==2.13.0 transformers trl
    /work/trlvenv/bin/pip install -e .
    /work/trlvenv/bin/python examples/trl_grpo/train_grpo.py | tee examples/trl_grpo/output.txt
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may come from a hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: E402
from transformers.trainer_callback import PrinterCallback  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

from pytest_rlgrade.integrations.trl import reward_function  # noqa: E402

HERE = Path(__file__).resolve().parent
TASK = "tiny_math"

RIGHT = {
    "add": "def add(a, b):\n    return a + b\n",
    "square": "def square(x):\n    return x * x\n",
    "is_even": "def is_even(n):\n    return n % 2 == 0\n",
    "clamp": "def clamp(x, lo, hi):\n    return min(max(x, lo), hi)\n",
}
WRONG = {
    "add": "def add(a, b):\n    return a - b\n",
    "square": "def square(x):\n    return x + x\n",
    "is_even": "def is_even(n):\n    return n % 2\n",
    "clamp": "def clamp(x, lo, hi):\n    return x\n",
}


def answer(wrong: set[str]) -> str:
    body = "\n\n".join((WRONG if name in wrong else RIGHT)[name] for name in RIGHT)
    return f"```python {TASK}/__init__.py\n{body}```\n"


# What the warm-up teaches, in equal parts: the policy starts out right on a sixth of its samples.
TARGETS = [
    answer(set()),
    answer({"clamp"}),
    answer({"is_even"}),
    answer({"add", "square"}),
    answer({"is_even", "clamp"}),
    "I am not sure how to write this.\n",
]


def build_tokenizer(corpus: list[str]) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.padding_side = "left"
    return fast


def build_model(tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=96,
        intermediate_size=192,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def warm_up(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, prompt: str, steps: int) -> float:
    """Supervised steps on prompt + target, the loss on the target's tokens only."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    rows = [
        prompt_ids + tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for t in TARGETS
    ]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        labels[i, len(prompt_ids) : len(row)] = torch.tensor(row[len(prompt_ids) :])
        mask[i, : len(row)] = 1
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    loss = torch.tensor(0.0)
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return float(loss.detach())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16, help="GRPO steps")
    parser.add_argument("--warm-up", type=int, default=150, help="supervised steps before GRPO")
    parser.add_argument("--generations", type=int, default=8, help="completions per prompt (one GRPO group)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers' renames, not ours
    torch.manual_seed(args.seed)
    # A model this small gains nothing from more threads, and on a shared machine OpenMP's spinning
    # threads cost far more than they give (the warm-up: 5.8 s on one thread, 66 s on two, under load).
    torch.set_num_threads(1)

    prompt = (HERE / "tasks" / TASK / "prompt.md").read_text(encoding="utf-8")
    tokenizer = build_tokenizer([prompt, *TARGETS, *RIGHT.values(), *WRONG.values()])
    model = build_model(tokenizer)
    print(f"model: {sum(p.numel() for p in model.parameters()):,} parameters, vocabulary {len(tokenizer)}")
    started = time.monotonic()
    loss = warm_up(model, tokenizer, prompt, args.warm_up)
    print(f"warm-up: {args.warm_up} supervised steps, final loss {loss:.3f} ({time.monotonic() - started:.1f} s)")

    reward = reward_function(task=TASK, root=HERE, workers=2)
    dataset = Dataset.from_dict({"prompt": [prompt] * (args.steps * args.generations)})
    with tempfile.TemporaryDirectory() as output_dir:
        config = GRPOConfig(
            output_dir=output_dir,
            max_steps=args.steps,
            per_device_train_batch_size=args.generations,
            num_generations=args.generations,
            max_completion_length=160,
            learning_rate=3e-4,
            temperature=1.0,
            top_k=50,  # transformers' default; TRL's 0 samples the whole tail of a tiny model
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            seed=args.seed,
            disable_tqdm=True,
        )
        trainer = GRPOTrainer(
            model=model, reward_funcs=reward, args=config, train_dataset=dataset, processing_class=tokenizer
        )
        trainer.remove_callback(PrinterCallback)  # the table below says it shorter
        started = time.monotonic()
        with reward:
            trainer.train()
        elapsed = time.monotonic() - started

    history = [entry for entry in trainer.state.log_history if "reward" in entry]
    print(f"GRPO: {len(history)} steps of {args.generations} completions in {elapsed:.1f} s")
    print("step  mean reward  reward std  completions not files")
    for entry in history:
        print(
            f"{int(entry['step']):>4}  {entry['reward']:>11.4f}  {entry.get('reward_std', float('nan')):>10.4f}"
            f"  {entry.get('rlgrade/not_files', float('nan')):>21.3f}"
        )
    first, last = history[: len(history) // 2], history[len(history) // 2 :]
    if first and last:
        print(
            f"mean reward, first half {statistics.fmean(e['reward'] for e in first):.4f}, "
            f"second half {statistics.fmean(e['reward'] for e in last):.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
