// Unusual technique: re-running parse analysis of a top-level statement.
//
// Why: date/time literals ('now', 'today', 'tomorrow', 'yesterday', as in '...'::date or a
// DEFAULT 'now') are turned into constants by the type input functions *during parse analysis*,
// reading the transaction timestamp. For the first statement of a transaction that timestamp was
// just set from the real clock by StartTransaction(), and no hook runs between the raw parser and
// analysis. post_parse_analyze_hook is the earliest point we get control: there we put the mocked
// timestamp in place and, if the statement's text mentions one of these words, analyze it again
// and overwrite the Query in place (keeping its queryId, so pg_stat_statements still matches).
//
// Scope and safety: only at top level (no executor or utility statement running), only when the
// transaction timestamp was actually stale, and only when a string constant in the text holds one
// of the words, so the cost is one extra analysis per affected transaction. The raw statement is
// recovered by parsing the same source text again and picking the statement at the same location;
// the ParseState's parameter and column hooks are carried over so $n parameters resolve as before.
// Parse analysis has no side effects beyond taking locks that the first run already holds.
#include "clock/reanalyze.hpp"

#include <cctype>
#include <cstring>

namespace pgut::clock {
namespace {

bool word_at(const char* text, size_t n, size_t at, const char* word) {
  size_t len = std::strlen(word);
  if (at + len > n) return false;
  for (size_t i = 0; i < len; i++)
    if (std::tolower(static_cast<unsigned char>(text[at + i])) != word[i]) return false;
  return true;
}

// Does a string constant ('...', including E'...' and typed literals such as DATE '...') hold one
// of the words? now() itself is a function call, evaluated at run time: it needs no re-analysis.
bool mentions_time_literal(const char* text, size_t n) {
  static const char* const words[] = {"now", "today", "tomorrow", "yesterday"};
  bool quoted = false;
  for (size_t at = 0; at < n; at++) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[at])));
    if (c == '\'') {
      quoted = !quoted;  // '' inside a constant toggles twice
      continue;
    }
    if (!quoted || (c != 'n' && c != 't' && c != 'y')) continue;
    for (const char* word : words)
      if (word_at(text, n, at, word)) return true;
  }
  return false;
}

}  // namespace

void reanalyze_if_time_literals(ParseState* pstate, Query* query) {
  const char* source = pstate->p_sourcetext;
  if (source == nullptr) return;
  size_t source_len = std::strlen(source);
  size_t start = query->stmt_location > 0 ? static_cast<size_t>(query->stmt_location) : 0;
  if (start > source_len) return;
  size_t len = query->stmt_len > 0 ? static_cast<size_t>(query->stmt_len) : source_len - start;
  if (start + len > source_len) len = source_len - start;
  if (!mentions_time_literal(source + start, len)) return;

  List* raw = raw_parser(source, RAW_PARSE_DEFAULT);
  RawStmt* match = nullptr;
  ListCell* cell;
  foreach (cell, raw) {
    RawStmt* candidate = lfirst_node(RawStmt, cell);
    if (candidate->stmt_location == query->stmt_location ||
        (query->stmt_location < 0 && list_length(raw) == 1)) {
      match = candidate;
      break;
    }
  }
  if (match == nullptr) return;

  ParseState* fresh_state = make_parsestate(nullptr);
  fresh_state->p_sourcetext = source;
  fresh_state->p_queryEnv = pstate->p_queryEnv;
  fresh_state->p_pre_columnref_hook = pstate->p_pre_columnref_hook;
  fresh_state->p_post_columnref_hook = pstate->p_post_columnref_hook;
  fresh_state->p_paramref_hook = pstate->p_paramref_hook;
  fresh_state->p_coerce_param_hook = pstate->p_coerce_param_hook;
  fresh_state->p_ref_hook_state = pstate->p_ref_hook_state;
  fresh_state->p_resolve_unknowns = pstate->p_resolve_unknowns;
  Query* fresh = transformTopLevelStmt(fresh_state, match);
  free_parsestate(fresh_state);

  fresh->queryId = query->queryId;
  *query = *fresh;
}

}  // namespace pgut::clock
