package color_test

import (
	"fmt"

	"selfsup/color"
)

// Convert a 2x1 image (pure red, mid grey) to Lab planes and back.
func ExampleRGBToLabPlanar() {
	rgb := []float32{
		1, 0.5, // R plane
		0, 0.5, // G plane
		0, 0.5, // B plane
	}
	lab := make([]float32, len(rgb))
	if err := color.RGBToLabPlanar(lab, rgb, 2); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("red:  L %.2f a %.2f b %.2f\n", lab[0], lab[2], lab[4])
	fmt.Printf("grey: L %.2f a %.2f b %.2f\n", lab[1], lab[3], lab[5])
	back := make([]float32, len(lab))
	color.LabToRGBPlanar(back, lab, 2)
	fmt.Printf("back: %.4f\n", back)
	// Output:
	// red:  L 53.24 a 80.09 b 67.20
	// grey: L 53.39 a -0.00 b 0.00
	// back: [1.0000 0.5000 0.0000 0.5000 0.0000 0.5000]
}
