// Package cam shows where an encoder looks: per-image saliency maps over the
// input, drawn as heat-map overlays on the images.
//
// Two maps are computed from the encoder's last feature map A ([C, h, w]
// per image; a ViT's patch tokens are laid out on their grid):
//
//   - Grad-CAM (Selvaraju et al. 2017) for a class of a linear probe: the
//     probe (an eval.LinearClassifier trained on the spatially pooled A of
//     frozen features, see TrainProbe) is applied to A with autograd
//     (pool, standardise, W x + b), the class score is backpropagated to A,
//     the gradients averaged over positions give one weight per channel,
//     and the map is ReLU(sum_k w_k A_k). With a pooled linear probe this
//     is the class activation map of Zhou et al. (2016); the gradient form
//     keeps it valid for any head built from autograd ops.
//   - The feature-norm map of the bare encoder: the L2 norm over channels
//     of A at every position. It needs no labels, so it shows what a
//     self-supervised encoder responds to before any probe is trained.
//
// Both are upsampled bilinearly to the image size and normalised to [0, 1]
// (minimum subtracted, divided by the maximum), as in the reference
// implementations.
//
// Grid draws images next to the overlays of one or more models (for
// example a supervised and a self-supervised encoder side by side) to a
// PNG. Pasted is a dataset for checking the maps: the images of another
// dataset pasted at random positions on a larger black canvas (optionally
// among fragments of other images, as in cluttered MNIST), with each
// image's box known, so the share of a map's mass inside the box
// (MassInside) measures whether the model looks at the object. Chance, a
// uniform map, is the box's share of the canvas; on a black canvas any
// map that follows the ink beats it, which is why the clutter and a
// random-init encoder's score belong next to a trained model's.
package cam
