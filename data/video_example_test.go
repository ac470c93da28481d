package data_test

import (
	"fmt"
	"log"

	"selfsup/data"
)

// ExampleSyntheticVideo renders a held-out synthetic video with its ground
// truth, then opens the same videos as a training dataset of clips: three
// frames two apart, stacked along the channels.
func ExampleSyntheticVideo() {
	cfg := data.SyntheticVideoConfig{Videos: 10, Frames: 12, Size: 32, Objects: 2, Clip: 3, Step: 2}
	v, err := data.SyntheticVideo(cfg, "test", 0)
	if err != nil {
		log.Fatal(err)
	}
	h, w := v.Size()
	fmt.Println(v.Name, len(v.Frames), "frames of", w, "x", h)
	fmt.Println("objects:", len(v.Keypoints[0]), "masks:", len(v.Masks))

	clips, err := data.Open("synthetic-video:videos=10,frames=12,size=32,objects=2,clip=3,step=2", data.OpenOptions{Split: "test"})
	if err != nil {
		log.Fatal(err)
	}
	c, ch, cw := clips.Shape()
	fmt.Println(clips.Name(), clips.Len(), "clips of", c, "channels,", cw, "x", ch)
	// Output:
	// test00000 12 frames of 32 x 32
	// objects: 2 masks: 12
	// synthetic-video/test 16 clips of 9 channels, 32 x 32
}
