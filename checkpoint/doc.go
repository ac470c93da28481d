// Package checkpoint saves and restores what training produces: model weights,
// optimizer state and the facts needed to use them later (architecture,
// method, configuration, step, epoch, metrics).
//
// Tensors are stored in the safetensors format
// (https://github.com/huggingface/safetensors), so that a selfsup checkpoint
// can be opened by PyTorch, JAX or any other safetensors reader, and a
// safetensors file written elsewhere can be read here. Files written by this
// package are byte-identical to what the reference implementation writes for
// the same float32 tensors: tensors sorted by descending dtype alignment and
// then by name, a compact JSON header padded with spaces to a multiple of 8
// bytes, data packed in header order. (The reference writes the keys of
// __metadata__ in hash-map order; this package sorts them, so that its output
// is deterministic.) Reading accepts F32, F64, F16 and BF16 tensors and
// converts them to float32.
//
// A checkpoint is a directory:
//
//	model.safetensors      weights and buffers, by name
//	optimizer.safetensors  optimizer state, by name (optional)
//	meta.json              architecture, config, method, step, epoch, metrics,
//	                       selfsup version, creation time, sizes and SHA-256
//	                       digests of the two tensor files
//
// Save builds the directory under a temporary name and renames it into place,
// so a crash at any moment leaves either the previous checkpoint or the new
// one, never a mix (see Save for the one replace-in-place case). A run
// directory holds step directories (step-000001000, ...) and a "latest" file
// naming the newest; SaveStep writes one and prunes all but the newest K
// (DefaultKeep), and LatestIn finds the newest complete one.
//
// Apply copies checkpoint tensors into a model's tensors and explains every
// mismatch (missing names, unexpected names, shapes) in one error;
// WithPrefix selects a sub-model, such as the encoder of a full model.
package checkpoint
