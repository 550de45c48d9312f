/**
 * Chat templates: the Jinja program in tokenizer_config.json that turns messages into a prompt.
 *
 * Decisions:
 * - Rendered with @huggingface/jinja, the implementation transformers.js uses for the same templates.
 * - The template is parsed once, when the tokenizer is built, so a broken template fails at load time.
 * - Templates get the variables transformers passes (`messages`, `add_generation_prompt`, `bos_token`,
 *   `eos_token`); `raise_exception` is built into the Jinja runtime.
 * - Models without a template get ChatML, which is also what the generated models ship with.
 */
import { Template } from '@huggingface/jinja';
import type { ChatMessage } from './types.js';

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export interface TemplateSpecialTokens {
  bosToken: string;
  eosToken: string;
}

export class ChatTemplate {
  private readonly template: Template;

  constructor(source: string) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new Error(`chat template does not parse: ${(err as Error).message}`);
    }
  }

  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean, tokens: TemplateSpecialTokens): string {
    return this.template.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: tokens.bosToken,
      eos_token: tokens.eosToken,
    });
  }
}
