package cam

import (
	"context"
	"image"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"selfsup/data"
	"selfsup/finetune"
	"selfsup/nn"
)

// localisation is the measurement behind the Grad-CAM acceptance check:
// MNIST digits (28x28) pasted at random on a 56x56 black canvas among
// clutter (four 8x8 fragments of other digits), a supervised model trained from
// scratch on them, a linear probe on its frozen pooled features, and the
// mean share of each test map's mass inside the digit's box (chance, a
// uniform map: 0.25). A random-init encoder of the same architecture is
// measured alongside: on a black canvas any map that follows the ink
// scores above chance, so the trained model must beat it too.
type localisation struct {
	// full trains resnet-small with finetune.Run (the supervised
	// baseline's loop); otherwise a narrow ResNet with trainSupervised.
	full                               bool
	steps, batch, probeImages, measure int
	clutter                            int
	lr                                 float64
	// clean also measures on the test digits without clutter.
	clean bool
}

type localisationResult struct {
	gradcam, norm, randomGradcam, randomNorm                     float64
	cleanGradcam, cleanNorm, cleanRandomGradcam, cleanRandomNorm float64
	took                                                         time.Duration
}

func (l localisation) run(t *testing.T) localisationResult {
	t.Helper()
	start := time.Now()
	const canvas = 56
	open := func(split string, n int, seed uint64, clutter int) *Pasted {
		ds, err := data.Open("mnist", data.OpenOptions{Split: split, Subset: n, Seed: seed})
		if err != nil {
			t.Skipf("MNIST is not available: %v", err)
		}
		p, err := Paste(ds, PasteConfig{Size: canvas, Clutter: clutter, Seed: seed + 7})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	train := open("train", min(l.steps*l.batch, 60000), 1, l.clutter)
	test := open("test", l.measure, 2, l.clutter)
	// the same digits at the same places without clutter
	clean := open("test", l.measure, 2, 0)
	ctx := context.Background()
	bc := nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: canvas}
	var trained, random nn.Backbone
	if l.full {
		res, err := finetune.Run(ctx, train, nil, finetune.Config{
			RunDir: t.TempDir(), Backbone: bc, Steps: int64(l.steps), BatchSize: l.batch, LR: l.lr,
			EvalEvery: -1, Seed: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		trained = res.Model.Enc
		var errR error
		if random, errR = nn.NewBackbone(bc, rand.New(rand.NewPCG(9, 9))); errR != nil {
			t.Fatal(errR)
		}
	} else {
		trained, random = tinyResNet(t, 3), tinyResNet(t, 9)
		trainSupervised(t, trained, train, l.steps, l.batch, l.lr, 3)
	}
	idx := make([]int, test.Len())
	boxes := make([]image.Rectangle, test.Len())
	for i := range idx {
		idx[i], boxes[i] = i, test.Box(i)
	}
	mass := func(enc nn.Backbone, test data.Dataset) (gradcam, norm float64) {
		probe, err := TrainProbe(ctx, enc, train, ProbeConfig{Images: l.probeImages, Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		ex := &Explainer{Encoder: enc, Probe: probe}
		for _, mode := range []Mode{GradCAM, FeatureNorm} {
			maps, err := ex.ExplainDataset(ctx, test, idx, mode, TargetLabel, 0)
			if err != nil {
				t.Fatal(err)
			}
			m, used := MeanMassInside(maps, boxes)
			if used < len(maps)*9/10 {
				t.Fatalf("%d of %d %v maps are all zero", len(maps)-used, len(maps), mode)
			}
			if mode == GradCAM {
				gradcam = m
			} else {
				norm = m
			}
		}
		return gradcam, norm
	}
	var out localisationResult
	out.gradcam, out.norm = mass(trained, test)
	out.randomGradcam, out.randomNorm = mass(random, test)
	if l.clean {
		out.cleanGradcam, out.cleanNorm = mass(trained, clean)
		out.cleanRandomGradcam, out.cleanRandomNorm = mass(random, clean)
	}
	out.took = time.Since(start)
	return out
}

// TestGradCAMLocalisesDigits trains a narrow ResNet for a few seconds and
// asserts that its Grad-CAM mass lies mostly on the digit, well above
// chance and above a random-init encoder's. SELFSUP_SLOW=1 runs the larger
// measurement with resnet-small trained by finetune.Run.
func TestGradCAMLocalisesDigits(t *testing.T) {
	l := localisation{steps: 200, batch: 32, lr: 0.2, probeImages: 1000, measure: 200, clutter: 4}
	if os.Getenv("SELFSUP_SLOW") == "1" {
		l = localisation{full: true, steps: 300, batch: 64, lr: 0.4, probeImages: 5000, measure: 1000, clutter: 4, clean: true}
	} else if testing.Short() {
		t.Skip("trains a model")
	}
	r := l.run(t)
	t.Logf("%d steps of batch %d, %d test maps; mass inside the digit's box (chance 0.25): trained Grad-CAM %.3f, feature norm %.3f; random-init Grad-CAM %.3f, feature norm %.3f; %s",
		l.steps, l.batch, l.measure, r.gradcam, r.norm, r.randomGradcam, r.randomNorm, r.took.Round(time.Millisecond))
	if l.clean {
		t.Logf("the same test digits without clutter: trained Grad-CAM %.3f, feature norm %.3f; random-init Grad-CAM %.3f, feature norm %.3f",
			r.cleanGradcam, r.cleanNorm, r.cleanRandomGradcam, r.cleanRandomNorm)
	}
	if r.gradcam < 0.5 {
		t.Errorf("Grad-CAM mass inside the digit's box is %.3f, want well above the chance level 0.25 (> 0.5)", r.gradcam)
	}
	if r.gradcam < r.randomGradcam+0.1 {
		t.Errorf("Grad-CAM mass inside the box: trained %.3f, random-init %.3f; the trained model should look at the digit more", r.gradcam, r.randomGradcam)
	}
}
