"""The same fine-tuning twice: with minidistil, and with transformers, and the two test accuracies.

    python examples/compare_hf_finetune.py                     # ~20 min on a 2-core CPU
    python examples/compare_hf_finetune.py --train-limit 1000  # quicker, noisier

Both runs start from the same weights (all-MiniLM-L6-v2's encoder and one freshly initialised
DistilBERT classification head, written once to `out_dir/init` and loaded by both), train on the
same Rotten Tomatoes examples in the same batches (minidistil's seeded length-grouped order), with
the same optimiser (AdamW, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on weight matrices only,
the token table frozen), the same schedule (10% linear warmup, linear decay), gradient clipping at
1.0, and keep the epoch with the best validation accuracy. The transformers side uses its own
model class (`DistilBertForSequenceClassification`), its own tokenizer (`BertTokenizerFast`) and its
own scheduler (`get_linear_schedule_with_warmup`), in a plain PyTorch loop. Dropout masks differ
between the two implementations, so the numbers agree closely, not bitwise.
"""
from dataclasses import replace
import time

import numpy as np
import torch
import transformers

from minidistil.data import sources, tasks
from minidistil.data.batching import LengthGroupedBatches, collate, length_sorted_batches
from minidistil.cli.flags import parse_settings
from minidistil.nn.checkpoint import save_model
from minidistil.training.finetune import FinetuneConfig, Features, finetune, load_model


FLAGS = ("out_dir", "train_limit", "epochs", "lr", "max_length", "batch_size", "seed")
args = parse_settings(FinetuneConfig, __doc__, only=FLAGS, out_dir="runs/compare", train_limit=2000, epochs=2,
                      lr=1e-4, max_length=64)

task = tasks.load("sentiment")
# Every epoch runs, as on the transformers side, which keeps its best epoch.
cfg = replace(args, out_dir=f"{args.out_dir}/minidistil", patience=args.epochs)

# One starting point for both: the encoder plus a head initialised once, from one seed.
torch.manual_seed(args.seed)
init = f"{args.out_dir}/init"
save_model(load_model(task, sources.teacher_dir()), sources.teacher_dir(), init)

# ---------------------------------------------------------------- minidistil
start = time.perf_counter()
ours = finetune(task, init, cfg)
ours_time = time.perf_counter() - start

# ---------------------------------------------------------------- transformers, same recipe
start = time.perf_counter()
tokenizer = transformers.BertTokenizerFast.from_pretrained(sources.teacher_dir())
model = transformers.DistilBertForSequenceClassification.from_pretrained(init)
model.distilbert.embeddings.word_embeddings.weight.requires_grad_(False)
label2id = task.label2id()


def encode(examples):
    enc = tokenizer([e["text"] for e in examples], truncation=True, max_length=args.max_length)
    return Features({"input_ids": np.asarray(ids), "labels": np.int64(label2id[e["label"]])}
                    for ids, e in zip(enc["input_ids"], examples))


@torch.no_grad()
def accuracy(examples):
    model.eval()
    found = encode(examples)
    correct = 0
    for batch_ids in length_sorted_batches(found, 64):
        batch = collate([found[i] for i in batch_ids], tokenizer.pad_token_id)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        correct += int((logits.argmax(-1) == batch["labels"]).sum())
    model.train()
    return correct / len(found)


train_rows = encode(task.train[:args.train_limit])
steps_per_epoch = len(train_rows) // args.batch_size
max_steps = steps_per_epoch * args.epochs
batches = LengthGroupedBatches(train_rows.lengths, args.batch_size, args.seed)
trainable = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.AdamW([{"params": [p for p in trainable if p.ndim >= 2], "weight_decay": cfg.weight_decay},
                               {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0}],
                              lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
scheduler = transformers.get_linear_schedule_with_warmup(optimizer, int(cfg.warmup * max_steps), max_steps)
model.train()
best_val, best_state, hf_history = -1.0, None, []
for step in range(max_steps):
    batch = collate([train_rows[int(i)] for i in batches.batch(step)], tokenizer.pad_token_id)
    torch.manual_seed(int(np.random.SeedSequence([args.seed, step, 0]).generate_state(1)[0]))
    loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    if (step + 1) % steps_per_epoch == 0:
        hf_history.append(accuracy(task.validation))
        if hf_history[-1] > best_val:
            best_val, best_state = hf_history[-1], {k: v.clone() for k, v in model.state_dict().items()}
model.load_state_dict(best_state)
hf_test = accuracy(task.test)
hf_time = time.perf_counter() - start

print(f"\nRotten Tomatoes, {args.train_limit} training snippets, {args.epochs} epochs, lr {args.lr:g}, "
      f"batch {args.batch_size}, max_length {args.max_length}, seed {args.seed}")
print(f"{'':<14}{'val acc/epoch':>22}{'best val':>10}{'test acc':>10}{'minutes':>9}")
for name, history, test, seconds in (("minidistil", ours["validation_history"], ours["test"]["accuracy"], ours_time),
                                     ("transformers", hf_history, hf_test, hf_time)):
    print(f"{name:<14}{' '.join(f'{v:.4f}' for v in history):>22}{max(history):>10.4f}{test:>10.4f}{seconds / 60:>9.1f}")
print(f"difference in test accuracy: {100 * (ours['test']['accuracy'] - hf_test):+.2f} points")
