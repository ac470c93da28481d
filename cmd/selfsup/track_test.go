package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// End to end on tiny synthetic videos: write them, pretrain video-color a
// few steps, track with the model and the baselines, and check the files
// and the scores that come out.
func TestVideoSynthPretrainTrack(t *testing.T) {
	dir := t.TempDir()
	vs := filepath.Join(dir, "vs")
	mustCLI(t, "data", "video-synth", "--out", vs, "--videos", "2", "--frames", "6", "--size", "32", "--objects", "2")
	for _, p := range []string{"frames/test00001/00005.png", "masks/test00001/00005.png", "masks/test00000/keypoints.json"} {
		if _, err := os.Stat(filepath.Join(vs, p)); err != nil {
			t.Fatal(err)
		}
	}
	run := filepath.Join(dir, "run")
	mustCLI(t, "pretrain", "--method", "video-color", "--data", "synthetic-video:videos=4,frames=6,size=32,objects=2,clip=3,step=1",
		"--steps", "2", "--batch", "4", "--params", `{"embed_dim":8,"colors":4}`, "--out", run, "--quiet")
	out := filepath.Join(dir, "tracked")
	stdout, _ := mustCLI(t, "track", "--ckpt", run, "--video", filepath.Join(vs, "frames"), "--masks", filepath.Join(vs, "masks"),
		"--out", out, "--baseline", "all", "--json")
	res := decodeJSON(t, stdout)
	ms, ok := res["methods"].([]any)
	if !ok || len(ms) != 4 {
		t.Fatalf("methods %v", res["methods"])
	}
	for i, want := range []string{"model", "copy", "pixels", "random"} {
		m := ms[i].(map[string]any)
		jf, _ := m["jf"].(float64)
		if m["method"] != want || !(jf >= 0 && jf <= 1) || m["objects"].(float64) < 2 {
			t.Fatalf("method %d: %v", i, m)
		}
	}
	for _, p := range []string{"model/test00000/masks/00003.png", "copy/test00001/overlay/00005.png", "pixels/test00000.gif", "random/test00001.gif"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Fatal(err)
		}
	}
	// one video, text output
	stdout, _ = mustCLI(t, "track", "--video", filepath.Join(vs, "frames", "test00000"), "--masks", filepath.Join(vs, "masks", "test00000"),
		"--out", filepath.Join(dir, "one"), "--baseline", "copy")
	if !strings.Contains(stdout, "J&F") || !strings.Contains(stdout, "copy") {
		t.Fatalf("output %q", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "one", "test00000.gif")); err != nil {
		t.Fatal(err)
	}
}

func TestTrackBadInput(t *testing.T) {
	dir := t.TempDir()
	vs := filepath.Join(dir, "vs")
	mustCLI(t, "data", "video-synth", "--out", vs, "--videos", "1", "--frames", "3", "--size", "32", "--objects", "1")
	frames, masks := filepath.Join(vs, "frames", "test00000"), filepath.Join(vs, "masks", "test00000")
	bad := filepath.Join(masks, "00001.png")
	f, err := os.Create(bad)
	if err != nil {
		t.Fatal(err)
	}
	png.Encode(f, image.NewGray(image.Rect(0, 0, 16, 32)))
	f.Close()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"mask size", []string{"--video", frames, "--masks", masks, "--out", dir, "--baseline", "copy"}, 1, bad},
		{"no checkpoint", []string{"--video", frames, "--masks", masks, "--out", dir}, 2, "--ckpt is required"},
		{"bad baseline", []string{"--video", frames, "--masks", masks, "--out", dir, "--baseline", "flow"}, 2, `"flow"`},
		{"missing video", []string{"--video", filepath.Join(dir, "nope"), "--masks", masks, "--out", dir, "--baseline", "copy"}, 1, filepath.Join(dir, "nope")},
		{"not video-color", []string{"--video", frames, "--masks", masks, "--out", dir, "--ckpt", filepath.Join(dir, "nope")}, 1, "nope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := cli(t, append([]string{"track"}, c.args...)...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, c.code, stderr, c.want)
			}
		})
	}
}
