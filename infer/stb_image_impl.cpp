// The one translation unit that compiles stb_image (Debian's libstb-dev). Built as its own library with
// warnings off: the third-party code trips -Wpedantic / -Wextra, our code is checked everywhere else.
// Formats limited to what datasets use; dimensions capped so a hostile header cannot ask for gigabytes.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_MAX_DIMENSIONS (1 << 15)
#include <stb/stb_image.h>
