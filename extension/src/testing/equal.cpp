// unit_tests._equal(a anycompatible, b anycompatible) → boolean: a IS NOT DISTINCT FROM b, with
// the type's own default equality (its default btree or hash operator class, as DISTINCT, GROUP BY
// and array and row comparisons use), for unit_tests.assert_equal().
//
// Why not IS DISTINCT FROM in PL/pgSQL: that resolves "=" by name through search_path, and the
// assertion pins search_path to pg_catalog (a superuser runs it over others' code), where the "="
// of a type installed in another schema (citext, hstore, PostGIS) is not found, or is found for a
// type it casts to (citext compared as text: case-sensitively). The type cache finds the operator
// from the type itself, so nothing is resolved by name. No C++ object is alive here.
#include "pg/boundary.hpp"

namespace pgut::testing {
namespace {

Datum equal(FunctionCallInfo fcinfo) {
  const bool null_a = PG_ARGISNULL(0);
  const bool null_b = PG_ARGISNULL(1);
  if (null_a || null_b) PG_RETURN_BOOL(null_a && null_b);
  const Oid type = get_fn_expr_argtype(fcinfo->flinfo, 0);
  if (!OidIsValid(type))
    throw pg::Error(ERRCODE_INTERNAL_ERROR, "unit_tests._equal: the argument type is unknown");
  TypeCacheEntry* entry = lookup_type_cache(type, TYPECACHE_EQ_OPR_FINFO);
  if (!OidIsValid(entry->eq_opr_finfo.fn_oid))
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                    errmsg("unit_tests.assert_equal: type %s has no equality operator",
                           format_type_be(type)),
                    errhint("Compare a form of the values that has one, such as their text "
                            "(actual::text, expected::text) or jsonb.")));
  PG_RETURN_BOOL(DatumGetBool(FunctionCall2Coll(&entry->eq_opr_finfo, PG_GET_COLLATION(),
                                                PG_GETARG_DATUM(0), PG_GETARG_DATUM(1))));
}

}  // namespace
}  // namespace pgut::testing

PGUT_SQL_FUNCTION(pgut_equal, pgut::testing::equal)
