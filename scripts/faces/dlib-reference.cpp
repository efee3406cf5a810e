// Reference faces for scripts/faces/measure.ts: dlib's HOG face detector and its 68-point shape predictor
// (libdlib-data). Built by hand, never part of poster:
//   g++ -O2 -std=c++14 scripts/faces/dlib-reference.cpp $(pkg-config --cflags --libs dlib-1) -o /tmp/dlib-reference
//   /tmp/dlib-reference [--upsample N] IMAGE...            detect, then predict 68 points on each face
//   /tmp/dlib-reference --boxes IMAGE L T W H [L T W H...]  68 points on given boxes
// Prints one JSON line per image: {"file", "width", "height", "faces": [{"box": [l, t, w, h], "score", "points": [[x, y] x 68]}]}.
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_processing.h>
#include <dlib/image_io.h>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace dlib;

static void print_face(const rectangle& r, double score, const full_object_detection& s, bool first) {
  std::printf("%s{\"box\":[%ld,%ld,%ld,%ld],\"score\":%.4f,\"points\":[", first ? "" : ",", r.left(), r.top(),
              r.width(), r.height(), score);
  for (unsigned long i = 0; i < s.num_parts(); ++i)
    std::printf("%s[%ld,%ld]", i ? "," : "", s.part(i).x(), s.part(i).y());
  std::printf("]}");
}

int main(int argc, char** argv) {
  shape_predictor sp;
  deserialize("/usr/share/dlib/shape_predictor_68_face_landmarks.dat") >> sp;
  int upsample = 1;
  int i = 1;
  if (argc > 2 && std::string(argv[1]) == "--boxes") {
    array2d<rgb_pixel> img;
    load_image(img, argv[2]);
    std::printf("{\"file\":\"%s\",\"width\":%ld,\"height\":%ld,\"faces\":[", argv[2], img.nc(), img.nr());
    for (int k = 3; k + 3 < argc; k += 4) {
      long l = std::atol(argv[k]), t = std::atol(argv[k + 1]), w = std::atol(argv[k + 2]), h = std::atol(argv[k + 3]);
      rectangle r(l, t, l + w - 1, t + h - 1);
      print_face(r, 0, sp(img, r), k == 3);
    }
    std::printf("]}\n");
    return 0;
  }
  if (argc > 2 && std::string(argv[1]) == "--upsample") { upsample = std::atoi(argv[2]); i = 3; }
  frontal_face_detector detector = get_frontal_face_detector();
  for (; i < argc; ++i) {
    array2d<rgb_pixel> img;
    load_image(img, argv[i]);
    array2d<rgb_pixel> up;
    assign_image(up, img);
    double scale = 1;
    for (int u = 0; u < upsample; ++u) { pyramid_up(up); scale *= 2; }
    std::vector<rect_detection> dets;
    detector(up, dets, 0.0);
    std::printf("{\"file\":\"%s\",\"width\":%ld,\"height\":%ld,\"faces\":[", argv[i], img.nc(), img.nr());
    bool first = true;
    for (auto& d : dets) {
      rectangle r = d.rect;
      rectangle o(std::lround(r.left() / scale), std::lround(r.top() / scale), std::lround(r.right() / scale),
                  std::lround(r.bottom() / scale));
      print_face(o, d.detection_confidence, sp(img, o), first);
      first = false;
    }
    std::printf("]}\n");
    std::fflush(stdout);
  }
  return 0;
}
