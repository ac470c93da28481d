package track_test

import (
	"fmt"
	"log"

	"selfsup/data"
	"selfsup/track"
)

// Example tracks the objects of a held-out synthetic video from its first
// mask, once by copying that mask to every frame and once through the
// attention on raw colours, and scores both with the DAVIS J&F. A trained
// video-color model plugs in the same way as track.Model{M: model}.
func Example() {
	cfg := data.SyntheticVideoConfig{Videos: 5, Frames: 12, Size: 64, Objects: 3, Clip: 4, Step: 2}
	v, err := data.SyntheticVideo(cfg, "test", 0)
	if err != nil {
		log.Fatal(err)
	}
	copied, err := track.Track(&v, nil, track.Options{})
	if err != nil {
		log.Fatal(err)
	}
	colour, err := track.Track(&v, track.Pixels{Stride: 4}, track.DefaultOptions(1e-4))
	if err != nil {
		log.Fatal(err)
	}
	_, _, copyJF, objects := track.Mean(copied.Objects)
	_, _, colourJF, _ := track.Mean(colour.Objects)
	fmt.Println(objects, "objects,", len(colour.Masks), "masks")
	fmt.Println("J&F in [0, 1]:", copyJF >= 0 && copyJF <= 1 && colourJF >= 0 && colourJF <= 1)
	// Output:
	// 3 objects, 12 masks
	// J&F in [0, 1]: true
}
