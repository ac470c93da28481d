package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTSNEPixels draws a t-SNE map of 300 MNIST test images from raw
// pixels and checks the files and the reported accuracy.
func TestTSNEPixels(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "map.png")
	stdout, _ := mustCLI(t, "tsne", "--baseline", "pixels", "--data", "mnist", "--n", "300", "--iterations", "400",
		"--out", png, "--json", "--quiet")
	v := decodeJSON(t, stdout)
	acc, _ := v["knn5_embedding"].(float64)
	feat, _ := v["knn5_features"].(float64)
	if !(acc > 0.6 && acc <= 1) || !(feat > 0.6 && feat <= 1) {
		t.Errorf("5-NN accuracy %v in the embedding, %v in the pixels: want both in (0.6, 1]", v["knn5_embedding"], v["knn5_features"])
	}
	if v["images"] != 300.0 || v["split_images"] != 10000.0 || v["feature_dim"] != 784.0 || v["input_dim"] != 50.0 ||
		v["method"] != "exact" || v["split"] != "test" {
		t.Errorf("output %v: want 300 of 10000 test images, 784-d pixels reduced to 50, exact t-SNE", v)
	}
	for _, f := range []string{png, filepath.Join(dir, "map.svg")} {
		st, err := os.Stat(f)
		if err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v (size %v), want a drawn map", f, err, st)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "map.svg"))
	if err != nil || !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "9") {
		t.Errorf("the SVG lacks a legend of the classes: %v", err)
	}

	// The text form reports the same things.
	stdout, _ = mustCLI(t, "tsne", "--baseline", "pixels", "--data", "mnist", "--n", "100", "--perplexity", "10",
		"--iterations", "250", "--method", "barnes-hut", "--out", png, "--quiet")
	for _, want := range []string{"t-SNE of 100 of 10000 test images", "barnes-hut", "5-NN accuracy", "in the embedding", "map.svg"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestTSNEBadInput(t *testing.T) {
	png := filepath.Join(t.TempDir(), "m.png")
	mnist := []string{"--data", "mnist", "--quiet"}
	with := func(a []string, b ...string) []string { return append(append([]string{}, a...), b...) }
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no --out", with([]string{"tsne", "--baseline", "pixels"}, mnist...), "--out"},
		{"not a png", with([]string{"tsne", "--baseline", "pixels", "--out", "m.jpg"}, mnist...), ".png"},
		{"no encoder", with([]string{"tsne", "--out", png}, mnist...), "--ckpt and --baseline"},
		{"supervised baseline", with([]string{"tsne", "--baseline", "supervised", "--out", png}, mnist...), "--ckpt DIR"},
		{"perplexity too high", with([]string{"tsne", "--baseline", "pixels", "--n", "60", "--out", png}, mnist...),
			"perplexity 30 is too high for 60 points: it must be below (N-1)/3 = 19.67"},
		{"unknown method", with([]string{"tsne", "--baseline", "pixels", "--method", "fast", "--out", png}, mnist...), "auto, exact or barnes-hut"},
		{"unknown init", with([]string{"tsne", "--baseline", "pixels", "--init", "spectral", "--out", png}, mnist...), "random or pca"},
		{"pixels have no stages", with([]string{"tsne", "--baseline", "pixels", "--stage", "1", "--n", "100", "--perplexity", "5", "--out", png}, mnist...), "no stages"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := cli(t, c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q: want 2 and %q", code, stderr, c.want)
			}
		})
	}
	if _, err := os.Stat(png); err == nil {
		t.Error("a failed run wrote the map")
	}
}

// TestEvalCluster runs k-means on raw MNIST pixels: far from perfect, far
// better than chance.
func TestEvalCluster(t *testing.T) {
	stdout, _ := mustCLI(t, "eval", "cluster", "--baseline", "pixels", "--data", "mnist", "--subset", "500", "--json", "--quiet")
	v := decodeJSON(t, stdout)
	nmi, _ := v["nmi"].(float64)
	ari, _ := v["ari"].(float64)
	acc, _ := v["accuracy"].(float64)
	if !(nmi > 0.3 && nmi < 1) || !(ari > 0.1 && ari < 1) || !(acc > 0.3 && acc < 1) {
		t.Errorf("NMI %v, ARI %v, accuracy %v: want clearly above chance and below 1", v["nmi"], v["ari"], v["accuracy"])
	}
	if v["k"] != 10.0 || v["test_images"] != 500.0 || v["protocol"] != "cluster" || v["classes"] != 10.0 {
		t.Errorf("output %v: want k = 10 clusters of 500 test images", v)
	}

	stdout, _ = mustCLI(t, "eval", "cluster", "--baseline", "pixels", "--data", "mnist", "--subset", "200", "--k", "4", "--quiet")
	for _, want := range []string{"NMI", "ARI", "accuracy", "k=4", "raw pixels"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q: %s", want, stdout)
		}
	}
	code, _, stderr := cli(t, "eval", "cluster", "--baseline", "pixels", "--data", "mnist", "--subset", "50", "--k", "51", "--quiet")
	if code != 2 || !strings.Contains(stderr, "--k 51") {
		t.Errorf("--k 51 of 50 images: exit %d, %q; want a usage error", code, stderr)
	}
}
