package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"strings"

	"selfsup/autograd"
	"selfsup/data"
	"selfsup/internal/atomicfile"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/tensor"
)

func init() {
	register("reconstruct", "draw an MAE checkpoint's reconstructions of masked test images", runReconstruct)
}

const reconstructUsage = `
Usage: selfsup reconstruct --ckpt DIR --data SPEC [--n 16] [--seed 0] --out grid.png

Masks a random 75% (the checkpoint's mask ratio) of the patches of the first
N images of the test split, lets the MAE checkpoint reconstruct them and
writes a PNG grid of triplets: masked input (hidden patches grey) |
reconstruction (the visible patches pasted from the input, as the MAE paper
shows them) | original. When the model was trained with norm_pix_loss its
predictions are per-patch normalised; they are mapped back to pixels with
each target patch's own mean and standard deviation, as the MAE demo does.
Prints the mean squared error over the hidden pixels.

Data specs: ` + data.SpecForms + `

Examples:
  selfsup pretrain --data mnist --method mae --arch vit-tiny --epochs 5 --out runs/mae-mnist
  selfsup reconstruct --ckpt runs/mae-mnist --data mnist --out mae-mnist.png
  selfsup reconstruct --ckpt runs/mae-mnist/step-000001000 --data mnist --n 32 --seed 3 --out more.png
`

func runReconstruct(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reconstruct", reconstructUsage, stderr)
	var df dataFlags
	df.register(fs, "", "test")
	ckpt := fs.String("ckpt", "", "MAE checkpoint (a run directory or one of its step directories)")
	n := fs.Int("n", 16, "number of images")
	seed := fs.Uint64("seed", 0, "random seed of the masks (and of --subset)")
	scale := fs.Int("scale", 0, "enlarge each image this many times (0: to at least 96 pixels)")
	out := fs.String("out", "", "PNG file to write (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	switch {
	case *ckpt == "":
		return usageError("--ckpt is required")
	case *out == "":
		return usageError("--out is required")
	case *n < 1:
		return usageError("--n %d must be at least 1", *n)
	case *scale < 0:
		return usageError("--scale %d must not be negative", *scale)
	case !strings.HasSuffix(strings.ToLower(*out), ".png"):
		return usageError("--out %s: the grid is written as PNG; name the file *.png", *out)
	}
	df.seed = *seed
	m, ck, err := methods.Load(*ckpt)
	if err != nil {
		return err
	}
	mae, ok := m.(*methods.MAE)
	if !ok {
		return fmt.Errorf("checkpoint %s is a %s checkpoint; reconstruct needs an MAE one (pretrain --method mae)", ck.Dir, ck.Method)
	}
	ds, err := df.open(stderr, "")
	if err != nil {
		return err
	}
	cfg := mae.Model.Encoder.Cfg
	c, h, w := ds.Shape()
	if c != cfg.InChannels || h != cfg.ImageSize || w != cfg.ImageSize {
		return fmt.Errorf("%s holds %dx%dx%d images but the checkpoint %s expects %dx%dx%d (channels x height x width; --image-size resizes)",
			ds.Name(), c, h, w, ck.Dir, cfg.InChannels, cfg.ImageSize, cfg.ImageSize)
	}
	if c != 1 && c != 3 {
		return fmt.Errorf("%s: %d-channel images cannot be drawn (1 or 3)", ds.Name(), c)
	}
	k := min(*n, ds.Len())
	if k == 0 {
		return fmt.Errorf("%s holds no images", ds.Name())
	}
	x, err := loadImages(ds, k)
	if err != nil {
		return err
	}
	rec, err := maeReconstruct(mae.Model, x, rand.New(rand.NewPCG(*seed, 0x6d6165)))
	if err != nil {
		return err
	}
	s := *scale
	if s == 0 {
		s = max(1, (96+h-1)/h)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, tripletGrid(rec.Masked, rec.Pasted, x, s)); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	note := ""
	if mae.Model.Cfg.NormPixLoss {
		note = "; predictions un-normalised with each patch's own mean and std (norm_pix_loss)"
	}
	fmt.Fprintf(stdout, "wrote %s: %d images of %s, masked input | reconstruction | original, %.0f%% of patches hidden; hidden-pixel MSE %.4f%s\n",
		*out, k, ds.Name(), 100*mae.Model.Cfg.MaskRatio, rec.MaskedMSE, note)
	return nil
}

// loadImages reads the first n images of ds into one [n, C, H, W] tensor.
func loadImages(ds data.Dataset, n int) (*tensor.Tensor, error) {
	c, h, w := ds.Shape()
	x := tensor.New(n, c, h, w)
	img := data.NewImage(c, h, w)
	for i := 0; i < n; i++ {
		var err error
		if img, err = ds.Image(i, img); err != nil {
			return nil, err
		}
		copy(x.Data[i*c*h*w:(i+1)*c*h*w], img.Pix)
	}
	return x, nil
}

// maeResult is what reconstruct draws: the masked input, the
// reconstruction with the visible patches pasted from the input, and the
// error over the hidden pixels (in pixel space).
type maeResult struct {
	Masked, Pasted *tensor.Tensor
	MaskedMSE      float64
}

// maeReconstruct runs the MAE on x [N, C, H, W] in evaluation mode and
// assembles the images: hidden patches come from the decoder's predictions
// (mapped back from per-patch normalisation with the target patch's mean
// and unbiased standard deviation when the model normalises), visible ones
// from x; in the masked input hidden patches are grey (0.5).
func maeReconstruct(model *methods.MAEModel, x *tensor.Tensor, r *rand.Rand) (maeResult, error) {
	cfg := model.Encoder.Cfg
	p, c := cfg.PatchSize, cfg.InChannels
	g := cfg.ImageSize / p
	var out methods.MAEOutput
	var target *tensor.Tensor
	model.SetTraining(false)
	err := autograd.Guard(func() error {
		autograd.NoGrad(func() {
			out = model.Forward(x, r)
			target = nn.Patchify(autograd.Const(x), p).Value.Clone()
		})
		return nil
	})
	if err != nil {
		return maeResult{}, err
	}
	pred := out.Pred.Value // [N, T, C*p*p]
	d := pred.Dim(2)
	pasted := tensor.New(pred.Shape()...)
	masked := tensor.New(pred.Shape()...)
	var sq float64
	hidden := 0
	for i, row := range out.Mask {
		for t, hide := range row {
			off := (i*len(row) + t) * d
			tp, pp := target.Data[off:off+d], pred.Data[off:off+d]
			dst, mdst := pasted.Data[off:off+d], masked.Data[off:off+d]
			if !hide {
				copy(dst, tp)
				copy(mdst, tp)
				continue
			}
			mu, std := 0.0, 1.0
			if model.Cfg.NormPixLoss {
				mu, std = patchStats(tp)
			}
			for j, v := range pp {
				px := float32(math.Min(1, math.Max(0, float64(v)*std+mu)))
				dst[j] = px
				mdst[j] = 0.5
				e := float64(px - tp[j])
				sq += e * e
			}
			hidden += d
		}
	}
	res := maeResult{Masked: nn.Unpatchify(masked, c, p, g, g), Pasted: nn.Unpatchify(pasted, c, p, g, g)}
	if hidden > 0 {
		res.MaskedMSE = sq / float64(hidden)
	}
	return res, nil
}

// patchStats returns a patch's mean and the square root of its unbiased
// variance plus 1e-6: the statistics the MAE loss normalised it with.
func patchStats(v []float32) (mean, std float64) {
	for _, x := range v {
		mean += float64(x)
	}
	mean /= float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, math.Sqrt(ss/float64(len(v)-1) + 1e-6)
}

// Grid layout, in pixels of the output image.
const (
	gridCellGap    = 2  // between the three images of a triplet
	gridTripletGap = 10 // between triplets, and around the border
)

// gridSize returns the grid's columns and rows of triplets for n images:
// ceil(sqrt(n)) triplets per row.
func gridSize(n int) (cols, rows int) {
	cols = int(math.Ceil(math.Sqrt(float64(n))))
	return cols, (n + cols - 1) / cols
}

// gridPixels returns the width and height of the grid of n triplets of
// images of side size enlarged scale times.
func gridPixels(n, size, scale int) (w, h int) {
	cols, rows := gridSize(n)
	cell := size * scale
	tw := 3*cell + 2*gridCellGap
	return cols*tw + (cols+1)*gridTripletGap, rows*cell + (rows+1)*gridTripletGap
}

// tripletGrid draws, for each image i, a[i] | b[i] | c[i] side by side
// (values clipped to [0, 1], grey or RGB, enlarged by nearest neighbour),
// the triplets in rows on a dark background.
func tripletGrid(a, b, c *tensor.Tensor, scale int) image.Image {
	n, ch, size := a.Dim(0), a.Dim(1), a.Dim(2)
	w, h := gridPixels(n, size, scale)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bg := color.RGBA{40, 40, 40, 255}
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = bg.R, bg.G, bg.B, bg.A
	}
	cols, _ := gridSize(n)
	cell := size * scale
	tw := 3*cell + 2*gridCellGap
	for i := 0; i < n; i++ {
		x0 := gridTripletGap + (i%cols)*(tw+gridTripletGap)
		y0 := gridTripletGap + (i/cols)*(cell+gridTripletGap)
		for k, t := range []*tensor.Tensor{a, b, c} {
			plane := t.Data[i*ch*size*size : (i+1)*ch*size*size]
			drawImage(img, plane, ch, size, scale, x0+k*(cell+gridCellGap), y0)
		}
	}
	return img
}

// drawImage paints one CHW image (1 or 3 channels, values in [0, 1]) at
// (x0, y0), each pixel as a scale x scale block.
func drawImage(dst *image.RGBA, pix []float32, ch, size, scale, x0, y0 int) {
	plane := size * size
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var rgb [3]uint8
			for k := range rgb {
				v := pix[min(k, ch-1)*plane+y*size+x]
				rgb[k] = uint8(math.Round(255 * math.Min(1, math.Max(0, float64(v)))))
			}
			col := color.RGBA{rgb[0], rgb[1], rgb[2], 255}
			for dy := 0; dy < scale; dy++ {
				for dx := 0; dx < scale; dx++ {
					dst.SetRGBA(x0+x*scale+dx, y0+y*scale+dy, col)
				}
			}
		}
	}
}
