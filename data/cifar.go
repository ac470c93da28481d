package data

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR binary record layout: label byte(s) then a 32x32 colour image stored
// as the 1024 red, 1024 green and 1024 blue bytes, each plane row-major,
// which is exactly CHW.
const (
	cifarSide   = 32
	cifarPixels = 3 * cifarSide * cifarSide
)

var cifar10Classes = []string{
	"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck",
}

var cifar100Fine = []string{
	"apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
	"bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
	"chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
	"dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
	"lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
	"mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
	"plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
	"rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
	"squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
	"train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
}

var cifar100Coarse = []string{
	"aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
	"household_electrical_devices", "household_furniture", "insects", "large_carnivores",
	"large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
	"medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
	"vehicles_1", "vehicles_2",
}

// Folder names of the official archives once unpacked.
const (
	cifar10Folder  = "cifar-10-batches-bin"
	cifar100Folder = "cifar-100-binary"
)

// resolveDir returns dir when it holds probe, else dir/sub when that does,
// so users may point at the unpacked folder or at its parent.
func resolveDir(dir, sub, probe string) string {
	if fileExists(filepath.Join(dir, probe)) {
		return dir
	}
	if d := filepath.Join(dir, sub); fileExists(filepath.Join(d, probe)) {
		return d
	}
	return dir
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// openCIFAR10 reads the train (data_batch_1..5.bin) or test (test_batch.bin)
// split of the CIFAR-10 binary version.
func openCIFAR10(dir, split string) (Dataset, error) {
	var files []string
	switch split {
	case "", "train":
		split = "train"
		for i := 1; i <= 5; i++ {
			files = append(files, fmt.Sprintf("data_batch_%d.bin", i))
		}
	case "test":
		files = []string{"test_batch.bin"}
	default:
		return nil, fmt.Errorf("cifar10: unknown split %q (valid: train, test)", split)
	}
	dir = resolveDir(dir, cifar10Folder, files[0])
	classes, err := readClassNames(filepath.Join(dir, "batches.meta.txt"), cifar10Classes)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	return readCIFAR("cifar10/"+split, dir, cifar10Folder, files, 1, 0, classes)
}

// openCIFAR100 reads the train.bin or test.bin split of the CIFAR-100 binary
// version with the fine (100 classes) or coarse (20 superclasses) labels.
func openCIFAR100(dir, split string, coarse bool) (Dataset, error) {
	name := "cifar100"
	if coarse {
		name = "cifar100-coarse"
	}
	switch split {
	case "", "train":
		split = "train"
	case "test":
	default:
		return nil, fmt.Errorf("%s: unknown split %q (valid: train, test)", name, split)
	}
	file := split + ".bin"
	dir = resolveDir(dir, cifar100Folder, file)
	namesFile, defaults, labelByte := "fine_label_names.txt", cifar100Fine, 1
	if coarse {
		namesFile, defaults, labelByte = "coarse_label_names.txt", cifar100Coarse, 0
	}
	classes, err := readClassNames(filepath.Join(dir, namesFile), defaults)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return readCIFAR(name+"/"+split, dir, cifar100Folder, []string{file}, 2, labelByte, classes)
}

// readCIFAR concatenates the records of files (each labelBytes label bytes
// then 3072 pixel bytes), taking the label at offset labelAt.
func readCIFAR(name, dir, sub string, files []string, labelBytes, labelAt int, classes []string) (Dataset, error) {
	rec := labelBytes + cifarPixels
	var total int64
	for _, f := range files {
		p := filepath.Join(dir, f)
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %s not found in %s or %s", name, f, dir, filepath.Join(dir, sub))
		}
		if st.Size() == 0 || st.Size()%int64(rec) != 0 {
			return nil, fmt.Errorf("%s: %s: length %d is not a positive multiple of the %d-byte record (%.2f records)",
				name, p, st.Size(), rec, float64(st.Size())/float64(rec))
		}
		total += st.Size() / int64(rec)
	}
	m := &memory{
		name: name, c: 3, h: cifarSide, w: cifarSide,
		pix:     make([]uint8, 0, total*cifarPixels),
		labels:  make([]int16, 0, total),
		classes: classes,
	}
	for _, f := range files {
		p := filepath.Join(dir, f)
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(raw)%rec != 0 { // changed since the Stat above
			return nil, fmt.Errorf("%s: %s: length %d is not a multiple of the %d-byte record", name, p, len(raw), rec)
		}
		for r := 0; r < len(raw); r += rec {
			l := int(raw[r+labelAt])
			if l >= len(classes) {
				return nil, fmt.Errorf("%s: %s: record %d has label %d, out of range (%d classes)",
					name, p, r/rec, l, len(classes))
			}
			m.labels = append(m.labels, int16(l))
			m.pix = append(m.pix, raw[r+labelBytes:r+rec]...)
		}
	}
	return m, nil
}

// readClassNames reads one class name per line (blank lines ignored), or
// returns defaults when the file does not exist. A names file that disagrees
// in count with the defaults is an error, since labels would be misnamed.
func readClassNames(path string, defaults []string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return defaults, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			names = append(names, s)
		}
	}
	if defaults != nil && len(names) != len(defaults) {
		return nil, fmt.Errorf("%s: %d class names, want %d", path, len(names), len(defaults))
	}
	return names, nil
}
