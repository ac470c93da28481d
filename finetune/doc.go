// Package finetune trains an encoder end to end on labelled images: the
// fine-tuning protocol of the self-supervised papers and, from a random
// initialisation, the supervised baseline they compare against.
//
// The model is methods.Supervised (the encoder and a linear classifier
// head, cross-entropy on the labels), so a fine-tuned or supervised run
// leaves a checkpoint that methods.Load, `selfsup eval` and every other
// consumer of method checkpoints read like a pretraining run's.
//
// What differs from pretraining (package train) is the optimisation:
//
//   - the first k stage modules of the encoder can be frozen (Config.Freeze,
//     nn.FreezeStages; RotNet froze the first two): their parameters get no
//     gradient and their batch norms stay in evaluation mode, running
//     statistics fixed, while the rest trains;
//   - the encoder learns more slowly than the new head: two SGD optimizers
//     (momentum 0.9) step the two parameter lists, the encoder's at
//     Config.EncoderLRScale times the head's learning rate, both on one
//     warmup + cosine schedule;
//   - the augmentation is light (a random resized crop of scale (0.5, 1),
//     flips optional);
//   - the model is evaluated on a test split (top-1, top-5) after every
//     epoch.
//
// Run writes metrics.jsonl, config.json, a loss plot and atomic
// checkpoints to the run directory.
package finetune
