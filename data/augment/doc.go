// Package augment builds the random views that self-supervised methods learn
// from: the SimCLR, MoCo v2, BYOL and DINO augmentation pipelines on
// data.Image values (float32, CHW, values in [0, 1]).
//
// Every transform is a small value type implementing Transform, and Compose
// chains them into a Pipeline. The presets (SimCLR, MoCoV2, BYOL, MultiCrop,
// Eval) return pipelines with the papers' settings; each takes an options
// struct whose constructor fills in those defaults, so a caller changes only
// what differs (for example a gentler crop scale on 28x28 MNIST).
//
// The sampling follows torchvision, so numbers and intuitions carry over:
// RandomResizedCrop draws its box exactly as
// torchvision.transforms.RandomResizedCrop.get_params does (ten attempts,
// then a centre-crop fallback), ColorJitter uses torchvision's definitions
// of brightness, contrast, saturation and hue and applies them in a random
// order, GaussianBlur samples sigma uniformly and pads by reflection.
// Differences from torchvision, all deliberate: resampling is bilinear
// without antialiasing (torchvision's tensor default antialiases when
// shrinking; DINO asks for bicubic), grayscale uses the ITU-R 601-2 weights
// 0.299, 0.587, 0.114 (as PIL does; torchvision's tensor path uses 0.2989),
// and the Gaussian kernel is truncated at 8 sigma where its weights are below
// 1e-14 of the centre.
//
// # Randomness
//
// Transforms draw from the *rand.Rand they are given and from nothing else,
// so a seeded generator reproduces a view exactly. The loader derives one
// generator per (seed, epoch, image, view), which makes its output
// independent of how work is spread over goroutines.
//
// # Memory ownership
//
// Apply(dst, src, r) reads src and writes its result into dst's storage:
//
//   - The result's Pix is dst.Pix[:n] (n = C*H*W of the result) when
//     cap(dst.Pix) >= n; otherwise Apply allocates a new slice. The returned
//     image keeps the capacity of the buffer it lives in, so passing the
//     previous result back as the next dst means a steady state with no
//     allocation. A worker therefore owns one scratch image per stage it
//     needs and feeds each Apply's result back into that scratch.
//   - Apply never writes src's memory unless dst shares it. Transforms that
//     report InPlace() == true (flip, colour jitter, grayscale, solarize,
//     normalise) accept dst and src being the same image; the others
//     (crops, resize, blur) need dst and src not to overlap.
//   - Transform values hold configuration only and are safe for concurrent
//     use by many goroutines, each with its own dst and *rand.Rand. A
//     Pipeline keeps a small locked free list of intermediate images for
//     steps that cannot work in place; it too is safe for concurrent use.
//
// # Images with other than three channels
//
// Brightness and contrast work on any number of channels (contrast blends
// with the mean of the grayscale image for three channels and with the mean
// of all values otherwise, as torchvision does for one channel). Saturation,
// hue and grayscale need colour and are no-ops unless the image has exactly
// three channels, so the colour presets can be used unchanged on MNIST.
// Normalize takes one mean/std per channel or one for all channels;
// OutShape reports any other combination as an error.
package augment
