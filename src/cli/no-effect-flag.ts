/**
 * A flag of SGLang's (launch_server, sgl-router) that pd-node accepts for compatibility and that has
 * no effect here: parsed as SGLang's argparse parses it, listed once at start-up with `why`.
 */
export interface NoEffectFlag {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** switch: no value; value: one value; list: every following word that is not a flag (argparse's nargs). */
  readonly arity: 'switch' | 'value' | 'list';
  readonly why: string;
}
