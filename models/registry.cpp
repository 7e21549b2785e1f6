#include "models/registry.h"

#include <map>

#include "models/baseline.h"
#include "models/faceapi_dlas.h"
#include "models/heads.h"
#include "models/iresnet.h"
#include "models/resnet_caffe.h"
#include "models/toml_config.h"

namespace models {

namespace {

struct Entry {
  std::string description;
  index_t input_size;
  std::function<std::shared_ptr<MultiModalNet>()> build;
};

template <std::size_t K>
std::array<index_t, K> divided(std::array<index_t, K> widths, index_t by) {
  for (auto& w : widths) w /= by;
  return widths;
}

std::shared_ptr<MultiModalNet> dlas(const DlasFamily& family, DlasVariant variant,
                                    std::vector<Modality> modalities = {kAllModalities, kAllModalities + 3}) {
  return std::make_shared<DlasNet>(family, variant, std::move(modalities));
}

// The single-modality ablations of a DLAS-A entry: "<name>_rgb", "<name>_depth", "<name>_ir".
void add_single_modality(std::map<std::string, Entry>& t, const std::string& name,
                         const std::function<DlasFamily()>& family) {
  const Entry& full = t.at(name);
  for (Modality m : kAllModalities)
    t[name + "_" + modality_name(m)] = {full.description + ", " + modality_name(m) + " stream only (ablation)",
                                        full.input_size, [family, m] { return dlas(family(), DlasVariant::A, {m}); }};
}

const std::map<std::string, Entry>& registry() {
  static const std::map<std::string, Entry> table = [] {
    std::map<std::string, Entry> t;
    const ResNetCaffeConfig resnet;
    const struct {
      const char* suffix;
      ResNetCaffeConfig config;
      const char* what;
    } resnet_sizes[] = {{"", resnet, ""},
                        {"_w4", {divided(resnet.widths, 4), resnet.blocks}, ", width x1/4"},
                        {"_tiny", {divided(resnet.widths, 8), {1, 1, 2, 1}}, ", width x1/8, 1-2 blocks per stage"}};
    for (const auto& s : resnet_sizes) {
      const ResNetCaffeConfig c = s.config;
      t["resnet34_dlas_a" + std::string(s.suffix)] = {
          std::string("ResNetCaffe-34 streams, DLAS-A (the reference's NN1/NN2)") + s.what, 112,
          [c] { return dlas(resnet_caffe_family(c), DlasVariant::A); }};
      t["resnet34_dlas_b" + std::string(s.suffix)] = {
          std::string("ResNetCaffe-34 streams, DLAS-B (channel attention)") + s.what, 112,
          [c] { return dlas(resnet_caffe_family(c), DlasVariant::B); }};
      t["resnet34_dlas_c" + std::string(s.suffix)] = {
          std::string("ResNetCaffe-34 streams, DLAS-C (128-d bottlenecks)") + s.what, 112,
          [c] { return dlas(resnet_caffe_family(c), DlasVariant::C); }};
      add_single_modality(t, "resnet34_dlas_a" + std::string(s.suffix), [c] { return resnet_caffe_family(c); });
    }
    const struct {
      const char* name;
      std::array<int, 4> units;
      bool se;
      const char* what;
    } irs[] = {{"ir50", {3, 4, 14, 3}, false, "IR-50 streams (face.evoLVe), DLAS-A (the reference's NN3/NN4)"},
               {"ir_se50", {3, 4, 14, 3}, true, "IR-SE-50 streams, DLAS-A"},
               {"ir100", {3, 13, 30, 3}, false, "IR-100 streams, DLAS-A"},
               {"ir152", {3, 8, 36, 3}, false, "IR-152 streams, DLAS-A"}};
    for (const auto& ir : irs) {
      const IRConfig full{.units = ir.units, .se = ir.se};
      const IRConfig w4{.widths = divided(full.widths, 4), .units = ir.units, .se = ir.se};
      const IRConfig tiny{.widths = divided(full.widths, 8), .units = {1, 1, 2, 1}, .se = ir.se, .se_reduction = 4};
      const std::string base = std::string(ir.name) + "_dlas_a";
      t[base] = {ir.what, 112, [full] { return dlas(ir_family(full), DlasVariant::A); }};
      t[base + "_w4"] = {std::string(ir.what) + ", width x1/4", 112, [w4] { return dlas(ir_family(w4), DlasVariant::A); }};
      t[base + "_tiny"] = {std::string(ir.what) + ", width x1/8, 1-2 units per stage", 112,
                           [tiny] { return dlas(ir_family(tiny), DlasVariant::A); }};
      if (!ir.se && ir.units[2] == 14)  // IR-50: the reference's family
        for (const auto& [suffix, config] : {std::pair{"", full}, std::pair{"_w4", w4}, std::pair{"_tiny", tiny}})
          add_single_modality(t, base + suffix, [c = config] { return ir_family(c); });
    }
    t["faceapi_dlas_a"] = {"face-api FaceRecognitionNet (dlib ResNet-29) streams, DLAS-A, 256-d feature", 150,
                           [] { return dlas(faceapi_family(), DlasVariant::A); }};
    t["casia_surf_baseline"] = {"CASIA-SURF paper baseline: ResNet-18 streams, SE fusion, shared res4", 112,
                                [] { return std::make_shared<CasiaSurfBaseline>(); }};
    t["casia_surf_baseline_w4"] = {"CASIA-SURF paper baseline, width x1/4", 112,
                                   [] { return std::make_shared<CasiaSurfBaseline>(BaselineOptions{.width = 16}); }};
    for (Modality m : {Modality::rgb, Modality::depth, Modality::ir})
      t[std::string("casia_surf_baseline_") + modality_name(m)] = {
          std::string("CASIA-SURF baseline on ") + modality_name(m) + " alone (ablation)", 112,
          [m] { return std::make_shared<SingleModalityNet>(m); }};
    return t;
  }();
  return table;
}

}  // namespace

std::vector<ModelInfo> list_models() {
  std::vector<ModelInfo> out;
  for (const auto& [name, e] : registry()) out.push_back({name, e.description, e.input_size});
  return out;
}

std::shared_ptr<MultiModalNet> build_model(const std::string& name, const ModelOptions& options) {
  const auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& [n, e] : registry()) known += (known.empty() ? "" : ", ") + n;
    throw nn::Error(nn::str("unknown model \"", name, "\"; known models: ", known));
  }
  auto net = it->second.build();
  net->set_head(make_head(options.head, net->feature_dim(), options.num_classes, options.frozen_head));
  return net;
}

ModelSpec read_model_spec(TomlReader& model) {
  ModelSpec spec;
  const auto name = model.string("name");
  NN_CHECK(name, model.where("name"), "[model] needs name = \"...\" (see `hardtune summary --list`)");
  spec.name = *name;
  NN_CHECK(registry().count(spec.name), model.where("name"), "unknown model \"", spec.name,
           "\" (see `hardtune summary --list`)");
  spec.options.head = model.choice("head", spec.options.head, head_names());
  spec.options.num_classes = model.integer_in("num_classes", spec.options.num_classes, 2, 1 << 20);
  spec.options.frozen_head = model.boolean("frozen_head", spec.options.frozen_head);
  model.finish();
  return spec;
}

std::shared_ptr<MultiModalNet> build_model_from_config(const std::string& path) {
  const toml::table config = parse_toml_file(path);
  TomlReader root(config, path);
  auto model = root.table("model");
  NN_CHECK(model, path, ": no [model] table");
  const ModelSpec spec = read_model_spec(*model);
  return build_model(spec.name, spec.options);
}

}  // namespace models
