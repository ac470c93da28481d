package main

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"selfsup/data"
)

// TestReconstructGrid trains a tiny MAE for two steps, draws five test
// images and checks the grid: its size, the original column against the
// dataset, the masked column's grey patches and the reconstruction's
// pasted visible patches.
func TestReconstructGrid(t *testing.T) {
	tmp := t.TempDir()
	run := filepath.Join(tmp, "mae")
	mustCLI(t, "pretrain", "--data", "mnist", "--subset", "64", "--method", "mae", "--arch", "vit-tiny", "--steps", "2", "--batch", "8",
		"--params", `{"decoder_dim":16,"decoder_depth":1,"decoder_heads":2}`, "--out", run, "--quiet")
	out := filepath.Join(tmp, "grid.png")
	stdout, _ := mustCLI(t, "reconstruct", "--ckpt", run, "--data", "mnist", "--n", "5", "--out", out)
	if !strings.Contains(stdout, "5 images") || !strings.Contains(stdout, "75% of patches hidden") || !strings.Contains(stdout, "norm_pix_loss") {
		t.Errorf("output: %s", stdout)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// 5 triplets: 3 per row, 2 rows; 28-pixel images enlarged 4x (to at
	// least 96); 2-pixel gaps inside a triplet, 10 around them
	const cell, scale = 112, 4
	if b := img.Bounds(); b.Dx() != 3*(3*cell+2*2)+4*10 || b.Dy() != 2*cell+3*10 {
		t.Fatalf("grid is %dx%d, want %dx%d", b.Dx(), b.Dy(), 3*(3*cell+4)+40, 2*cell+30)
	}
	ds, err := data.Open("mnist", data.OpenOptions{Split: "test"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := ds.Image(0, data.Image{})
	if err != nil {
		t.Fatal(err)
	}
	// triplet 0 starts at (10, 10): masked, reconstruction, original
	grey := func(col, x, y int) uint8 {
		r, _, _, _ := img.At(10+col*(cell+2)+x*scale+1, 10+y*scale+1).RGBA()
		return uint8(r >> 8)
	}
	const patch = 4 // vit-tiny's patch size on 28-pixel images
	hiddenPatches, total := 0, 0
	for py := 0; py < 7; py++ {
		for px := 0; px < 7; px++ {
			hidden := true
			for y := py * patch; y < (py+1)*patch; y++ {
				for x := px * patch; x < (px+1)*patch; x++ {
					want := uint8(math.Round(255 * float64(first.Pix[y*28+x])))
					if got := grey(2, x, y); got != want {
						t.Fatalf("original pixel (%d, %d): %d, want %d", x, y, got, want)
					}
					if grey(0, x, y) != 128 {
						hidden = false
					}
				}
			}
			if hidden {
				hiddenPatches++
			}
			total++
			// a visible patch (one with any non-grey pixel in the masked
			// input) is pasted unchanged into the reconstruction
			if !hidden {
				for y := py * patch; y < (py+1)*patch; y++ {
					for x := px * patch; x < (px+1)*patch; x++ {
						if grey(1, x, y) != grey(2, x, y) || grey(0, x, y) != grey(2, x, y) {
							t.Fatalf("visible patch (%d, %d) is not the original in the masked input and reconstruction", px, py)
						}
					}
				}
			}
		}
	}
	// 75% of 49 patches hidden: 37 (a visible patch could be all grey by
	// chance, never on MNIST)
	if hiddenPatches != 37 {
		t.Errorf("%d of %d patches grey in the masked input, want %d", hiddenPatches, total, 37)
	}
}

func TestReconstructErrors(t *testing.T) {
	tmp := t.TempDir()
	inp := filepath.Join(tmp, "inp")
	mustCLI(t, "pretrain", "--data", "mnist", "--subset", "32", "--method", "inpainting", "--steps", "1", "--batch", "8",
		"--params", `{"decoder_width":8,"disc_width":4}`, "--out", inp, "--quiet")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--data", "mnist", "--out", "g.png"}, 2, "--ckpt is required"},
		{[]string{"--ckpt", inp, "--data", "mnist"}, 2, "--out is required"},
		{[]string{"--ckpt", inp, "--data", "mnist", "--out", "g.jpg"}, 2, "PNG"},
		{[]string{"--ckpt", inp, "--data", "mnist", "--n", "0", "--out", "g.png"}, 2, "--n 0"},
		{[]string{"--ckpt", inp, "--data", "mnist", "--out", filepath.Join(tmp, "g.png")}, 1, "inpainting checkpoint; reconstruct needs an MAE"},
		{[]string{"--ckpt", filepath.Join(tmp, "nothing"), "--data", "mnist", "--out", filepath.Join(tmp, "g.png")}, 1, "nothing"},
	} {
		code, _, stderr := cli(t, append([]string{"reconstruct"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("reconstruct %v: exit %d, %s; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "g.png")); err == nil {
		t.Error("a failed reconstruct wrote its output")
	}
}

func TestPatchStats(t *testing.T) {
	mean, std := patchStats([]float32{1, 2, 3, 4})
	// unbiased variance of 1..4 is 5/3, as torch's .var() in the MAE code
	if math.Abs(mean-2.5) > 1e-9 || math.Abs(std-math.Sqrt(5.0/3+1e-6)) > 1e-9 {
		t.Errorf("patchStats = %v, %v; want 2.5, sqrt(5/3 + 1e-6)", mean, std)
	}
}
