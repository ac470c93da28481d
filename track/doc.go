// Package track propagates object masks and keypoints through a video
// without any training on them, as in "Tracking Emerges by Colorizing
// Videos" (Vondrick et al. 2018): the first frame's labels are pooled to a
// feature map, and every later frame copies labels from its reference
// frames (the first one and the previous ones) through a softmax attention
// over per-pixel embeddings, the pointer a video colorization model
// (methods.VideoColor) learned by copying colours. Baselines run in the
// same harness: copying the first mask unchanged, attention on raw Lab
// colours (Pixels), and attention on a randomly initialised network (a
// Model over an untrained VideoColor). Results are scored with the DAVIS
// measures, region similarity J (mask IoU) and contour accuracy F
// (boundary F-measure), and keypoints with PCK; Overlay and WriteGIF draw
// the propagated masks.
package track
