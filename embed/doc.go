// Package embed puts a trained encoder to work inside a Go program: it
// loads the backbone of a checkpoint (Load), turns images into embeddings
// (Encoder.Embed, EmbedBatch, EmbedDataset), writes and reads embedding
// files, and saves and applies few-label classifiers (linear probes) over
// the embeddings. Package index searches the embeddings; cmd/selfsup's
// embed, classify and serve commands are thin layers over the two.
//
// # Preprocessing
//
// An image is converted to RGB floats in [0, 1] exactly as image folders
// are read by package data, its shorter side resized to the model's input
// size and centre-cropped with data.Resized's resampler, and converted to
// the model's channels (RGB to gray by the ITU-R 601 luma for 1-channel
// models such as MNIST encoders, gray to RGB by replication). No
// normalisation follows, as in evaluation. An image embedded with
// Encoder.Embed and the same file read from a folder dataset therefore
// give the same embedding.
//
// # Encoder IDs
//
// Encoder.ID is the first 128 bits, in hex, of a SHA-256 over the backbone
// configuration and every tensor of the encoder (weights and batch-norm
// statistics, sorted by name, with shapes). Embedding files, indexes and
// classifiers record it, and refuse to be used with another encoder,
// since its embeddings would live in another space.
//
// # The binary embeddings format
//
// Little-endian throughout. A header:
//
//	offset  size  field
//	0       8     magic "SSUPEMB\x00"
//	8       4     format version (uint32, currently 1)
//	12      4     flags (uint32; bit 0: vectors are L2-normalised)
//	16      4     dim: values per vector (uint32, 1..2^20)
//	20      4     reserved, 0
//	24      8     count: number of records (uint64); 2^64-1 when the writer
//	              could not seek back to fill it in (read to end of file)
//	32      2     length L of the encoder ID (uint16)
//	34      L     encoder ID (ASCII hex)
//
// then count records, each:
//
//	4       id length N (uint32, 1..65536)
//	N       id, UTF-8: the image's file path for image folders, the decimal
//	        dataset index otherwise
//	4*dim   the vector, float32
//
// Readers check the magic, refuse later versions and unknown flags, and
// report a file that ends early or holds more records than its count.
// Reading it from Python:
//
//	import numpy as np, struct
//	b = open("emb.bin", "rb").read()
//	ver, flags, dim, _, n, l = struct.unpack_from("<IIIIQH", b, 8)
//	off, ids, vecs = 34 + l, [], []
//	while off < len(b):
//	    (k,) = struct.unpack_from("<I", b, off); off += 4
//	    ids.append(b[off:off + k].decode()); off += k
//	    vecs.append(np.frombuffer(b, "<f4", dim, off)); off += 4 * dim
//
// # The .npy format
//
// WriteFile with format "npy" writes a float32 array of shape (count, dim)
// in numpy's format 1.0 (numpy.load reads it), and next to it a JSON side
// file (IDsPath: emb.npy -> emb.ids.json) holding format, version,
// encoder_id, dim, normalized, ids (one per row) and count. The array's
// header is rewritten with the final count at the end, so both files are
// streamed: memory stays bounded whatever the number of images. Parquet is
// not implemented.
//
// # Classifiers
//
// A classifier directory holds classifier.safetensors: the probe's weight,
// bias and standardisation tensors (eval.LinearClassifier.Tensors), with a
// JSON description (ClassifierInfo: class names, the encoder's ID and the
// path of its checkpoint) in the file's metadata.
package embed
