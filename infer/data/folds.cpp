// List statistics and folds_by_fakes (folds.h).
#include "infer/data/folds.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <unordered_map>

#include "libnn/core/check.h"
#include "libnn/core/rng.h"

namespace infer {
namespace {

// Fisher-Yates driven by Philox words (not std::shuffle, whose draws differ between standard libraries).
void seeded_shuffle(std::vector<std::string>& v, std::uint64_t seed) {
  const nn::Generator gen(seed);
  for (std::size_t i = v.size(); i > 1; --i) {
    const auto w = gen.block(i);
    const std::uint64_t r = (std::uint64_t{w[0]} << 32) | w[1];
    std::swap(v[i - 1], v[r % i]);
  }
}

std::vector<ListFile> read_lists(const std::vector<std::string>& paths, OnBadSample on_bad, std::ostream& out) {
  std::vector<ListFile> lists;
  for (const auto& p : paths) {
    lists.push_back(read_list(p, on_bad));
    for (const auto& b : lists.back().skipped) out << "skipped " << b.where() << '\n';
  }
  return lists;
}

}  // namespace

ListStats list_stats(const std::vector<ListRow>& rows) {
  ListStats s;
  std::set<std::string> subjects, real_subjects;
  for (const auto& r : rows) {
    ++s.rows;
    (r.label == 1 ? s.real : r.label == 0 ? s.fake : s.unlabelled)++;
    const SampleInfo info = parse_sample_path(r.rgb);
    ++s.by_split[std::string(split_name(info.split))];
    if (info.split == Split::training) ++s.by_attack[std::string(attack_code(info.attack))];
    if (!info.subject.empty()) {
      subjects.insert(info.subject);
      if (r.label == 1) real_subjects.insert(info.subject);
    }
  }
  s.subjects = static_cast<long>(subjects.size());
  s.real_subjects = static_cast<long>(real_subjects.size());
  return s;
}

void print_stats(const ListStats& s, std::ostream& out) {
  out << "  rows " << s.rows << "  real " << s.real << "  fake " << s.fake;
  if (s.unlabelled) out << "  unlabelled " << s.unlabelled;
  if (s.skipped) out << "  skipped " << s.skipped;
  out << "\n  split:";
  for (const auto& [k, v] : s.by_split) out << "  " << k << ' ' << v;
  if (!s.by_attack.empty()) {
    out << "\n  attack type:";
    for (const auto& [k, v] : s.by_attack) out << "  " << k << ' ' << v;
  }
  out << "\n  subjects " << s.subjects << " (with real samples " << s.real_subjects << ")\n";
}

std::vector<ListRow> union_rows(const std::vector<ListFile>& lists) {
  // Keyed by views of the rgb paths inside `lists`, which outlive the map: no key copies.
  std::unordered_map<std::string_view, std::pair<const ListFile*, const ListRow*>> seen;
  std::size_t total = 0;
  for (const auto& list : lists) total += list.rows.size();
  seen.reserve(total);
  std::vector<ListRow> rows;
  rows.reserve(total);
  for (const auto& list : lists) {
    for (const auto& r : list.rows) {
      const auto [it, inserted] = seen.try_emplace(r.rgb, &list, &r);
      if (inserted) {
        rows.push_back(r);
        continue;
      }
      const auto& [first_list, first] = it->second;
      NN_CHECK(first->label == r.label && first->depth == r.depth && first->ir == r.ir, list.path, ':', r.line,
               ": sample ", r.rgb, " is listed differently (label ", r.label, ", depth ", r.depth, ", ir ", r.ir,
               ") at ", first_list->path, ':', first->line, " (label ", first->label, ", depth ", first->depth,
               ", ir ", first->ir, ")");
    }
  }
  return rows;
}

std::optional<std::string> fold_row_problem(const ListRow& row) {
  const SampleInfo info = parse_sample_path(row.rgb);
  if (info.split != Split::training) return nn::str("not a Training sample: ", row.rgb);
  if (info.subject.empty() || info.attack == AttackType::unknown)
    return nn::str("no subject or attack type in ", row.rgb);
  const bool real = info.attack == AttackType::real;
  if (real != info.real_part) return nn::str("session ", info.session, " in the wrong part folder: ", row.rgb);
  if (row.label != (real ? 1 : 0))
    return nn::str("label ", row.label, " for a ", real ? "real" : "fake", " sample: ", row.rgb);
  return std::nullopt;
}

std::vector<Fold> make_folds(const std::vector<ListRow>& rows, std::uint64_t seed) {
  std::vector<AttackType> attacks(rows.size());
  std::vector<std::string> subjects(rows.size());
  std::set<AttackType> fake_types;
  std::set<std::string> real_set;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (auto problem = fold_row_problem(rows[i]))
      throw nn::Error(nn::str("folds: line ", rows[i].line, ": ", *problem));
    SampleInfo info = parse_sample_path(rows[i].rgb);
    attacks[i] = info.attack;
    if (info.attack == AttackType::real)
      real_set.insert(info.subject);
    else
      fake_types.insert(info.attack);
    subjects[i] = std::move(info.subject);
  }
  const std::size_t k_folds = fake_types.size();
  NN_CHECK(k_folds >= 2, "folds: need at least 2 attack types to hold out one per fold, got ", k_folds);
  NN_CHECK(real_set.size() >= k_folds, "folds: need at least ", k_folds, " real subjects, got ", real_set.size());

  std::vector<std::string> real_subjects(real_set.begin(), real_set.end());
  seeded_shuffle(real_subjects, seed);
  std::unordered_map<std::string, std::size_t> group_of;
  for (std::size_t i = 0; i < real_subjects.size(); ++i) group_of[real_subjects[i]] = i * k_folds / real_subjects.size();

  // The fold each row is held out in: its real subject's group, or its attack type's fold.
  std::vector<std::size_t> held_in(rows.size());
  const std::vector<AttackType> types(fake_types.begin(), fake_types.end());
  for (std::size_t i = 0; i < rows.size(); ++i)
    held_in[i] = attacks[i] == AttackType::real
                     ? group_of.at(subjects[i])
                     : static_cast<std::size_t>(std::find(types.begin(), types.end(), attacks[i]) - types.begin());

  std::vector<Fold> folds(k_folds);
  for (std::size_t k = 0; k < k_folds; ++k) {
    Fold& f = folds[k];
    f.held_out_attack = types[k];
    for (const auto& s : real_subjects)
      if (group_of.at(s) == k) f.held_out_subjects.push_back(s);
    std::sort(f.held_out_subjects.begin(), f.held_out_subjects.end());
    for (std::size_t i = 0; i < rows.size(); ++i) (held_in[i] == k ? f.held_out : f.train).push_back(rows[i]);
  }
  return folds;
}

void run_lists_stats(const std::vector<std::string>& paths, OnBadSample on_bad, std::ostream& out) {
  const auto lists = read_lists(paths, on_bad, out);
  for (const auto& l : lists) {
    ListStats s = list_stats(l.rows);
    s.skipped = static_cast<long>(l.skipped.size());
    out << l.path << (l.has_label ? "" : " (no label column)") << '\n';
    print_stats(s, out);
  }
  if (lists.size() > 1) {
    out << "union (" << lists.size() << " lists, repeated rows counted once)\n";
    print_stats(list_stats(union_rows(lists)), out);
  }
}

void run_lists_folds(const FoldsOptions& options, std::ostream& out) {
  NN_CHECK(!options.from.empty(), "lists folds: no input lists (--from)");
  NN_CHECK(!options.out.empty(), "lists folds: no output directory (--out)");
  auto lists = read_lists(options.from, options.on_bad, out);
  // Checked per file first so a bad row is reported with its file and line.
  for (auto& l : lists) {
    std::vector<ListRow> kept;
    for (auto& r : l.rows) {
      auto problem = fold_row_problem(r);
      if (!problem) {
        kept.push_back(std::move(r));
        continue;
      }
      BadLine b{l.path, r.line, std::move(*problem)};
      NN_CHECK(options.on_bad == OnBadSample::skip, "lists folds: ", b.where());
      out << "skipped " << b.where() << '\n';
    }
    l.rows = std::move(kept);
  }
  const auto rows = union_rows(lists);
  const auto folds = make_folds(rows, options.seed);
  out << rows.size() << " samples, seed " << options.seed << '\n';
  for (std::size_t k = 0; k < folds.size(); ++k) {
    const Fold& f = folds[k];
    const std::filesystem::path dir = std::filesystem::path(options.out) / nn::str("fold", k + 1);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    NN_CHECK(!ec, "lists folds: cannot create ", dir.string(), ": ", ec.message());
    write_list((dir / "train_list.txt").string(), f.train);
    write_list((dir / "val_list_orgl.txt").string(), f.held_out);
    out << "fold" << k + 1 << ": held out " << attack_code(f.held_out_attack) << " and "
        << f.held_out_subjects.size() << " real subjects; train " << f.train.size() << ", held out "
        << f.held_out.size() << " -> " << dir.string() << '\n';
  }
}

}  // namespace infer
