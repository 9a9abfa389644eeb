#!/bin/bash
# test_resize.sh - the seed's example, verbatim: a worker `gearman -w -f resize -- convert - -resize
# 200x150 -` (ImageMagick) and a client `gearman -f resize < large.jpg > thumb.jpg`, with a real
# JPEG; the server comes from $GEARMAN_SERVER so the command lines stay as written.
. "$(dirname "$0")/lib.sh"

command -v convert >/dev/null && command -v identify >/dev/null || gm_fail "ImageMagick is missing"
gm_start
export GEARMAN_SERVER=127.0.0.1:$GM_PORT
PATH=$BUILD_DIR:$PATH
[ "$(command -v gearman)" = "$G" ] || gm_fail "gearman on PATH is not ours"
cd "$GM_TMP" || exit 1

convert -size 1600x1200 plasma: large.jpg
gm_bg gearman -w -f resize -- convert - -resize 200x150 -
gm_wait_workers resize 1 10

gearman -f resize < large.jpg > thumb.jpg || gm_fail "the resize job failed"
read -r fmt w h < <(identify -format '%m %w %h\n' thumb.jpg)
tl_eq "thumbnail format" "$fmt" "JPEG"
[ "$w" -le 200 ] && [ "$h" -le 150 ] && [ "$w" -ge 190 ] || gm_fail "thumbnail is ${w}x${h}"

# another aspect ratio: bounded by 200x150 as well
convert -size 900x1200 plasma: tall.jpg
gearman -f resize < tall.jpg > tall-thumb.jpg || gm_fail "the second resize failed"
read -r fmt w h < <(identify -format '%m %w %h\n' tall-thumb.jpg)
[ "$fmt" = JPEG ] && [ "$w" -le 200 ] && [ "$h" -le 150 ] && [ "$h" -ge 140 ] ||
    gm_fail "tall thumbnail is $fmt ${w}x${h}"

# not an image: convert fails, so does the job and the client
head -c 1000 /dev/urandom > junk.jpg
gearman -f resize < junk.jpg > junk-thumb.jpg 2>err.txt && gm_fail "resizing junk must fail"
grep -qx "Job failed" err.txt || gm_fail "no 'Job failed': $(cat err.txt)"
exit 0
