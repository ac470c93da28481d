// Package loader turns a data.Dataset into batches of augmented views for
// training: it decodes images and runs the view pipelines on several
// goroutines, assembles [N, C, H, W] tensors per view, and keeps a few
// batches ready ahead of the training loop.
//
// Output is reproducible and independent of scheduling: the sample order of
// an epoch depends only on (Seed, epoch), and the random generator of view v
// of image i in epoch e only on (Seed, e, i, v) (see SampleSeed). Workers=1
// and Workers=16 therefore give bit-identical batches, and a run resumed at
// (epoch, step) sees exactly the batches the interrupted run would have.
//
// Work is split per image, not per batch: every worker helps assemble the
// oldest unfinished batch, so a prefetch depth of two batches keeps all
// workers busy while the trainer works on the current one, and memory stays
// at a few batches whatever the worker count.
//
// Batch tensors come from tensor.Buffers; hand a batch back with
// Loader.Release when the step is done with it and the steady state
// allocates nothing large. Workers keep their decode and scratch images
// between images and epochs.
package loader
