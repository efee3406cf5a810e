#!/usr/bin/python3
"""Writes the detector's test photos (public domain / CC0, from Debian's python3-skimage and python-matplotlib-data)
and their dlib references into test/fixtures/faces/photos/. Run by hand (needs /tmp/dlib-reference, see
scripts/faces/dlib-reference.cpp):  /usr/bin/python3 scripts/faces/make-detect-fixtures.py /tmp/dlib-reference"""
import json, os, subprocess, sys
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'faces', 'photos')
SK = '/usr/lib/python3/dist-packages/skimage/data'
MPL = '/usr/share/matplotlib/mpl-data/sample_data'
binary = sys.argv[1] if len(sys.argv) > 1 else '/tmp/dlib-reference'
os.makedirs(OUT, exist_ok=True)

astronaut = Image.open(f'{SK}/astronaut.png').convert('RGB')
hopper = Image.open(f'{MPL}/grace_hopper.jpg').convert('RGB')
made = {}
def save(name, im, **kw):
    im.save(os.path.join(OUT, name), quality=88, **kw); made[name] = im.size

save('astronaut-256.jpg', astronaut.resize((256, 256), Image.LANCZOS))
save('camera-256.jpg', Image.open(f'{SK}/camera.png').convert('L').resize((256, 256), Image.LANCZOS))
pair = Image.new('RGB', (400, 200), (40, 40, 40))
pair.paste(hopper.crop((100, 60, 440, 460)).resize((170, 200), Image.LANCZOS), (10, 0))
pair.paste(astronaut.crop((100, 0, 360, 300)).resize((174, 200), Image.LANCZOS), (220, 0))
save('pair-400x200.jpg', pair)
save('chelsea-225x150.jpg', Image.open(f'{SK}/chelsea.png').convert('RGB').resize((225, 150), Image.LANCZOS))
save('coffee-300x200.jpg', Image.open(f'{SK}/coffee.png').convert('RGB').resize((300, 200), Image.LANCZOS))
made['hopper-640x480.jpg'] = (640, 480)  # written by hand from grace_hopper.jpg: crop (0, 40, 512, 424), resized

def pts(p):
    m = lambda ids: [sum(p[i][0] for i in ids) / len(ids), sum(p[i][1] for i in ids) / len(ids)]
    return {'eye_r': m(range(36, 42)), 'eye_l': m(range(42, 48)), 'nose': list(map(float, p[30])), 'mouth': m(range(48, 68))}

ref = {}
for name in made:
    out = subprocess.run([binary, '--upsample', '2', os.path.join(OUT, name)], check=True, capture_output=True, text=True).stdout
    faces = json.loads(out)['faces']
    ref[name] = {'width': made[name][0], 'height': made[name][1],
                 'faces': [{'box': f['box'], **pts(f['points'])} for f in sorted(faces, key=lambda f: f['box'][0] + f['box'][2] / 2)]}
# dlib's frontal detector misses the cameraman (a profile); his face box by hand, no points.
ref['camera-256.jpg']['faces'] = [{'box': [95, 60, 32, 32], 'no_points': 'profile'}]
ref['chelsea-225x150.jpg']['faces'] = []
ref['coffee-300x200.jpg']['faces'] = []
json.dump({'generator': 'scripts/faces/make-detect-fixtures.py', 'reference': 'dlib HOG + shape_predictor_68 (libdlib-data)',
           'photos': ref}, open(os.path.join(OUT, 'reference.json'), 'w'), indent=1)
print(json.dumps({k: len(v['faces']) for k, v in ref.items()}))
