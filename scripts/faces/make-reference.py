#!/usr/bin/python3
"""Reference faces for scripts/faces/measure.ts, from photos Debian ships (run by hand; poster never needs this).

Faces and their 68 points come from dlib: the hand-checked boxes and 68-point landmarks of dlib's example PASCAL VOC
photos (libdlib19.1's examples/faces/*_with_face_landmarks.xml), and, for the other photos, dlib's HOG face
detector + shape_predictor_68_face_landmarks (libdlib-data) through scripts/faces/dlib-reference.cpp, checked by
eye (false dlib detections dropped, missed faces boxed by hand and landmarked by dlib on that box).

    g++ -O2 -std=c++14 scripts/faces/dlib-reference.cpp $(pkg-config --cflags --libs dlib-1) -o /tmp/dlib-reference
    /usr/bin/python3 scripts/faces/make-reference.py /tmp/dlib-reference > /tmp/faces-reference.json
    /usr/bin/python3 scripts/faces/make-reference.py /tmp/dlib-reference PAINTINGS_DIR > /tmp/with-paintings.json

Per face: box [x, y, w, h] and eye_r, eye_l (centres of dlib points 36-41 / 42-47: the subject's right eye is on
the image's left), nose (point 30, the tip), mouth (centre of points 48-67). `ignore`: regions where a detection
is neither a hit nor a false face (printed faces on posters, a photo of a face in the background)."""
import json, subprocess, sys
import xml.etree.ElementTree as ET

DLIB = '/usr/share/doc/libdlib19.1/examples'
SK = '/usr/lib/python3/dist-packages/skimage/data'
MPL = '/usr/share/matplotlib/mpl-data/sample_data'
binary = sys.argv[1] if len(sys.argv) > 1 else '/tmp/dlib-reference'

def points(parts):
    def mean(ids):
        return [sum(parts[i][0] for i in ids) / len(ids), sum(parts[i][1] for i in ids) / len(ids)]
    return {'eye_r': mean(range(36, 42)), 'eye_l': mean(range(42, 48)), 'nose': list(map(float, parts[30])),
            'mouth': mean(range(48, 68))}

def dlib_run(args):
    out = subprocess.run([binary] + args, check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]

photos = []
# dlib's annotated VOC photos (group photos, 43 faces).
for xml in ('training_with_face_landmarks.xml', 'testing_with_face_landmarks.xml'):
    for im in ET.parse(f'{DLIB}/faces/{xml}').getroot().iter('image'):
        faces = []
        for b in im.iter('box'):
            parts = {int(p.get('name')): (int(p.get('x')), int(p.get('y'))) for p in b.iter('part')}
            faces.append({'box': [int(b.get(k)) for k in ('left', 'top', 'width', 'height')], **points(parts), 'source': 'dlib xml'})
        # 2008_004176: Elvis cut-outs and posters (printed faces) along the top.
        ignore = [[0, 0, 480, 60], [350, 40, 130, 60]] if im.get('file') == '2008_004176.jpg' else []
        photos.append({'file': f"{DLIB}/faces/{im.get('file')}", 'kind': 'faces', 'what': 'group photo (PASCAL VOC)', 'faces': faces, 'ignore': ignore})

# Other photos: dlib HOG + shape predictor; `drop` = indices of dlib detections that are not faces, `add` = boxes
# dlib missed (landmarked by dlib on that box).
others = [
    (f'{SK}/astronaut.png', 'portrait (skimage)', 1, [1], [], []),
    (f'{SK}/camera.png', 'grayscale photo, face turned down (skimage)', 1, [], [[190, 120, 64, 64]], []),
    (f'{MPL}/grace_hopper.jpg', 'portrait (matplotlib)', 1, [], [], []),
    (f'{DLIB}/faces/Tom_Cruise_avp_2014_4.jpg', 'close portrait (dlib)', 1, [], [], []),
    (f'{DLIB}/faces/bald_guys.jpg', 'collage of 24 portraits, 1986x1545 (dlib)', 0, [], [], []),
]
for file, what, up, drop, add, ignore in others:
    det = dlib_run(['--upsample', str(up), file])[0]
    faces = [f for i, f in enumerate(det['faces']) if i not in drop]
    if add:
        faces += dlib_run(['--boxes', file] + [str(v) for b in add for v in b])[0]['faces']
    faces = [{'box': f['box'], **points(f['points']), 'source': 'dlib hog' if f['score'] else 'hand box + dlib points'} for f in faces]
    if file.endswith('camera.png'):
        # A profile: dlib's frontal 68-point model puts the eyes on the cheek; counted for recall only.
        for f in faces:
            f['no_points'] = 'profile face: dlib 68-point reference not valid'
    photos.append({'file': file, 'kind': 'faces', 'what': what, 'faces': faces, 'ignore': ignore})

# Photos with no face.
for file, what, ignore in [
    (f'{SK}/chelsea.png', 'cat', []), (f'{SK}/coffee.png', 'cup of coffee', []), (f'{SK}/horse.png', 'horse silhouette', []),
    (f'{SK}/rocket.jpg', 'rocket launch', []), (f'{SK}/motorcycle_left.png', 'motorcycle', []),
    (f'{SK}/hubble_deep_field.jpg', 'galaxies', []),
    (f'{DLIB}/faces/dogs.jpg', 'four dogs', [[0, 450, 110, 110]]),  # a magazine with a face, top left of the third dog
    (f'{DLIB}/mmod_cars_test_image.jpg', 'cars on a road', []), (f'{DLIB}/mmod_cars_test_image2.jpg', 'cars, 2482x614', []),
]:
    photos.append({'file': file, 'kind': 'none', 'what': what, 'faces': [], 'ignore': ignore})

# Paintings, when a folder of them is given as the second argument: the public-domain examples of
# github.com/jcjohnson/neural-style (examples/inputs/*.jpg; fetched by hand, never shipped).
paintings = sys.argv[2] if len(sys.argv) > 2 else None
if paintings:
    for name in ('frida_kahlo', 'picasso_selfport1907', 'woman-with-hat-matisse'):
        file = f'{paintings}/{name}.jpg'
        faces = [{'box': f['box'], **points(f['points']), 'source': 'dlib hog'} for f in dlib_run(['--upsample', '1', file])[0]['faces']]
        photos.append({'file': file, 'kind': 'faces', 'what': 'painting', 'faces': faces, 'ignore': []})
    # Escher's self-portrait in a reflecting sphere: dlib misses it; hand box, dlib's points on it.
    file = f'{paintings}/escher_sphere.jpg'
    faces = [{'box': f['box'], **points(f['points']), 'source': 'hand box + dlib points'} for f in dlib_run(['--boxes', file, '420', '440', '100', '120'])[0]['faces']]
    photos.append({'file': file, 'kind': 'faces', 'what': 'etching, a face reflected in a sphere', 'faces': faces, 'ignore': []})
    # The Scream: a stylised face dlib neither finds nor landmarks (recall only).
    photos.append({'file': f'{paintings}/the_scream.jpg', 'kind': 'faces', 'what': 'painting, stylised face',
                   'faces': [{'box': [550, 770, 160, 170], 'no_points': 'stylised face: no dlib reference'}], 'ignore': []})
    for name in ('starry_night', 'shipwreck'):
        photos.append({'file': f'{paintings}/{name}.jpg', 'kind': 'none', 'what': 'painting without faces', 'faces': [], 'ignore': []})

json.dump({'generator': 'scripts/faces/make-reference.py', 'photos': photos}, sys.stdout, indent=1)
