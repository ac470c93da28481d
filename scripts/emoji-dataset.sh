#!/usr/bin/env bash
# emoji-dataset.sh OUT: builds the labelled colour image folder "emoji" from
# the npm package emoji-datasource-google (Google's Noto emoji as 64x64 RGBA
# PNGs; DESIGN.md's labelled colour dataset) for the colour methods
# (colorization, split-brain), which MNIST cannot exercise.
#
#   OUT/train/<category>/<name>.png   4 of every 5 emoji of a category
#   OUT/test/<category>/<name>.png    every 5th (in the package's sort order)
#
# Labels are the package's 9 categories (Activities, Animals & Nature,
# Flags, Food & Drink, Objects, People & Body, Smileys & Emotion, Symbols,
# Travel & Places); the 5 "Component" images (skin tone swatches, hair) and
# the skin-tone variations are left out, so each emoji appears once. The
# transparent surroundings are stored black, which is what `--data folder:`
# reads (alpha is dropped keeping the stored colour).
#
# Use it as `selfsup pretrain --data folder:OUT --image-size 32 ...` (OUT:
# datasets/emoji, say, which git ignores).
# Needs npm (the npm registry) and python3. The package version is pinned so
# that the split is the same everywhere.
set -euo pipefail
out=${1:?usage: scripts/emoji-dataset.sh OUT}
version=16.0.0
if [ -e "$out" ] && ! rmdir "$out" 2>/dev/null; then
	echo "emoji-dataset: $out exists and is not an empty folder; remove it or name another" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "emoji-datasource-google@$version" >/dev/null)
tar -xzf "$work/emoji-datasource-google-$version.tgz" -C "$work"
python3 - "$work/package" "$out.tmp" <<'EOF'
import json, os, shutil, sys
pkg, out = sys.argv[1], sys.argv[2]
emoji = [e for e in json.load(open(os.path.join(pkg, "emoji.json")))
         if e.get("has_img_google") and e["category"] != "Component"]
emoji.sort(key=lambda e: e["sort_order"])
seen = {}
for e in emoji:
    cat = e["category"].replace(" & ", " and ")
    k = seen.get(cat, 0)
    seen[cat] = k + 1
    split = "test" if k % 5 == 4 else "train"
    src = os.path.join(pkg, "img", "google", "64", e["image"])
    dst = os.path.join(out, split, cat)
    os.makedirs(dst, exist_ok=True)
    shutil.copyfile(src, os.path.join(dst, e["image"]))
for cat in sorted(seen):
    print(f"{cat}: {seen[cat]} images")
EOF
mv "$out.tmp" "$out"
echo "emoji-dataset: wrote $out (emoji-datasource-google@$version)"
