package data

import (
	"fmt"
	"log"
	"strings"
)

// SpecForms lists the data spec strings Open accepts, for help texts.
const SpecForms = "mnist, fashion-mnist, cifar10:DIR, cifar100:DIR, cifar100-coarse:DIR, stl10:DIR, folder:DIR, synthetic:shapes[:N], frames:DIR[#clip=4,step=1], synthetic-video[:videos=400,frames=24,size=64,objects=3,clip=4,step=2] (mnist:DIR and fashion-mnist:DIR read idx files from DIR; synthetic:shapes generates N train and N/5 test colour images, default 20000; frames:DIR and synthetic-video are video clips, each image CLIP frames STEP apart stacked along the channels (3*CLIP channels): frames:DIR reads one sub-folder of frame images per video, synthetic-video draws moving textured shapes with N/5 held-out test videos)"

// OpenOptions select the split and the part of a dataset that Open returns.
// The zero value opens the whole train split.
type OpenOptions struct {
	// Split is "train" (the default when empty), "test", or for STL-10 also
	// "unlabeled" and "train+unlabeled". Image folders with train/ and
	// test/ (or val/) sub-folders use them as splits; "test" falls back to
	// val/.
	Split string

	// Subset, when positive, keeps that many images chosen at random
	// (reproducibly from Seed) and kept in dataset order. Asking for more
	// images than the split holds is an error.
	Subset int

	// LabelsFraction, when in (0, 1), keeps the labels of a class-balanced
	// fraction of the images (chosen from Seed, see ClassBalancedIndices)
	// and marks the rest unlabeled (-1); every image stays. Use Labeled on
	// the result for the labeled part. 0 and 1 keep every label.
	LabelsFraction float64

	// Seed drives Subset and LabelsFraction; the same seed gives the same
	// images on every machine and Go release.
	Seed uint64

	// Resize, when positive, resizes every image so that its shorter side is
	// Resize pixels and centre-crops it to Resize x Resize (see Resized).
	// Image folders need it for batching, since their images vary in size.
	Resize int

	// Validate decodes every image at open time (after Subset) and drops the
	// unreadable ones, reporting them through Warn. Without it, image
	// folders decode lazily and a corrupt file is an error from Image.
	Validate bool

	// Strict makes Validate fail on the first unreadable image instead of
	// skipping it.
	Strict bool

	// Warn receives one-line warnings (skipped images); nil means log.Print.
	Warn func(msg string)
}

// Spec is a parsed data spec string.
type Spec struct {
	Kind string // mnist, fashion-mnist, cifar10, cifar100, cifar100-coarse, stl10, folder, synthetic, frames, synthetic-video
	// Dir is the folder after the colon; empty for the built-in mnist and
	// fashion-mnist; for synthetic, the generator and its size ("shapes",
	// "shapes:5000"); for frames, the folder and any clip options
	// ("DIR#clip=3,step=2"); for synthetic-video, its options
	// ("videos=200,size=48").
	Dir string
}

// ParseSpec parses a data spec string such as "cifar10:/data/cifar". A spec
// that does not parse gives a one-line error listing the valid forms.
func ParseSpec(spec string) (Spec, error) {
	kind, dir, hasDir := strings.Cut(spec, ":")
	bad := func(why string) (Spec, error) {
		return Spec{}, fmt.Errorf("bad data spec %q: %s (valid: %s)", spec, why, SpecForms)
	}
	switch kind {
	case "mnist", "fashion-mnist":
		if hasDir && dir == "" {
			return bad("empty folder after ':'")
		}
	case "cifar10", "cifar100", "cifar100-coarse", "stl10", "folder":
		if dir == "" {
			return bad(kind + " needs a folder, as in " + kind + ":DIR")
		}
	case "synthetic":
		if _, err := parseSynthetic(dir); err != nil {
			return bad(err.Error())
		}
	case "frames":
		if _, _, _, err := parseFramesSpec(dir); err != nil {
			return bad(err.Error())
		}
	case "synthetic-video":
		if _, err := ParseSyntheticVideo(dir); err != nil {
			return bad(err.Error())
		}
	case "":
		return bad("empty")
	default:
		return bad("unknown dataset " + kind)
	}
	return Spec{Kind: kind, Dir: dir}, nil
}

// String returns the spec in the form ParseSpec reads.
func (s Spec) String() string {
	if s.Dir == "" {
		return s.Kind
	}
	return s.Kind + ":" + s.Dir
}

// Open opens the dataset a spec string names and applies opts: the split,
// then Subset, then Validate, then LabelsFraction, then Resize. Errors name
// the file and the problem; a spec that does not parse lists the valid
// forms.
func Open(spec string, opts OpenOptions) (Dataset, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	if opts.Subset < 0 {
		return nil, fmt.Errorf("%s: subset %d must not be negative", spec, opts.Subset)
	}
	if opts.LabelsFraction < 0 || opts.LabelsFraction > 1 {
		return nil, fmt.Errorf("%s: labels fraction %g must lie in (0, 1]", spec, opts.LabelsFraction)
	}
	if opts.Resize < 0 {
		return nil, fmt.Errorf("%s: resize %d must not be negative", spec, opts.Resize)
	}
	ds, err := openBase(s, opts.Split)
	if err != nil {
		return nil, err
	}
	if opts.Subset > 0 {
		idx, err := RandomIndices(ds.Len(), opts.Subset, opts.Seed)
		if err != nil {
			return nil, fmt.Errorf("%s: subset: %w (%s has %d)", spec, err, ds.Name(), ds.Len())
		}
		if ds, err = Subset(ds, idx); err != nil {
			return nil, err
		}
	}
	if opts.Validate {
		var bad []BadImage
		if ds, bad, err = Validate(ds, opts.Strict); err != nil {
			return nil, err
		}
		if msg := SkippedMessage(bad); msg != "" {
			if opts.Warn != nil {
				opts.Warn(ds.Name() + ": " + msg)
			} else {
				log.Print(ds.Name() + ": " + msg)
			}
		}
	}
	if opts.LabelsFraction > 0 && opts.LabelsFraction < 1 {
		if ds, err = WithLabelsFraction(ds, opts.LabelsFraction, opts.Seed); err != nil {
			return nil, err
		}
	}
	if opts.Resize > 0 {
		if ds, err = Resized(ds, opts.Resize); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// openBase opens one split of the dataset s names.
func openBase(s Spec, split string) (Dataset, error) {
	switch s.Kind {
	case "mnist":
		return openMNIST(s.Dir, split)
	case "fashion-mnist":
		return openFashionMNIST(s.Dir, split)
	case "cifar10":
		return openCIFAR10(s.Dir, split)
	case "cifar100":
		return openCIFAR100(s.Dir, split, false)
	case "cifar100-coarse":
		return openCIFAR100(s.Dir, split, true)
	case "stl10":
		return openSTL10(s.Dir, split)
	case "folder":
		return openFolder(s.String(), s.Dir, split)
	case "synthetic":
		return openSynthetic(s.Dir, split)
	case "frames":
		return openFrames(s.Dir, split)
	case "synthetic-video":
		return openSyntheticVideo(s.Dir, split)
	}
	return nil, fmt.Errorf("bad data spec %q (valid: %s)", s, SpecForms)
}
