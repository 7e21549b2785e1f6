// The one translation unit that compiles stb_image_write (Debian's libstb-dev), built with warnings off
// like stb_image_impl.cpp: the third-party code trips -Wextra, ours is checked everywhere else.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
