//! GenAI client spans (`gen_ai.*`).

use super::push;
use crate::attribute as a;
use otlp_proto::common::{AnyValue, ArrayValue, KeyValue, Value};

/// Token counts of a GenAI call (`gen_ai.usage.*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// `gen_ai.usage.input_tokens`.
    pub input_tokens: i64,
    /// `gen_ai.usage.output_tokens`.
    pub output_tokens: i64,
}

/// The attributes of a GenAI inference span: operation, provider, request parameters, response
/// and token usage, each with the type the conventions give it.
///
/// ```
/// use otlp_semconv::attribute::{gen_ai_operation_name, gen_ai_provider_name};
/// use otlp_semconv::helpers::{GenAiSpan, TokenUsage};
///
/// let attrs = GenAiSpan::new(gen_ai_operation_name::CHAT, gen_ai_provider_name::OPENAI)
///     .with_request_model("gpt-4o")
///     .with_max_tokens(256)
///     .with_temperature(0.2)
///     .with_response_id("chatcmpl-1")
///     .with_finish_reasons(["stop"])
///     .with_usage(TokenUsage { input_tokens: 12, output_tokens: 40 })
///     .build();
/// assert_eq!(attrs.len(), 9);
/// ```
#[must_use]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenAiSpan {
    operation: String,
    provider: String,
    legacy_system: bool,
    request_model: Option<String>,
    max_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    response_id: Option<String>,
    response_model: Option<String>,
    finish_reasons: Vec<String>,
    usage: Option<TokenUsage>,
}

impl GenAiSpan {
    /// `gen_ai.operation.name` (see `attribute::gen_ai_operation_name`) and
    /// `gen_ai.provider.name` (see `attribute::gen_ai_provider_name`).
    pub fn new(operation: impl Into<String>, provider: impl Into<String>) -> Self {
        GenAiSpan {
            operation: operation.into(),
            provider: provider.into(),
            ..GenAiSpan::default()
        }
    }

    /// Also sets the deprecated `gen_ai.system` to the provider, for back ends that still read
    /// it. Default: off.
    pub fn with_legacy_system(self, on: bool) -> Self {
        GenAiSpan {
            legacy_system: on,
            ..self
        }
    }

    /// `gen_ai.request.model`.
    pub fn with_request_model(self, model: impl Into<String>) -> Self {
        GenAiSpan {
            request_model: Some(model.into()),
            ..self
        }
    }

    /// `gen_ai.request.max_tokens` (int).
    pub fn with_max_tokens(self, max_tokens: i64) -> Self {
        GenAiSpan {
            max_tokens: Some(max_tokens),
            ..self
        }
    }

    /// `gen_ai.request.temperature` (double).
    pub fn with_temperature(self, temperature: f64) -> Self {
        GenAiSpan {
            temperature: Some(temperature),
            ..self
        }
    }

    /// `gen_ai.request.top_p` (double).
    pub fn with_top_p(self, top_p: f64) -> Self {
        GenAiSpan {
            top_p: Some(top_p),
            ..self
        }
    }

    /// `gen_ai.response.id`.
    pub fn with_response_id(self, id: impl Into<String>) -> Self {
        GenAiSpan {
            response_id: Some(id.into()),
            ..self
        }
    }

    /// `gen_ai.response.model`.
    pub fn with_response_model(self, model: impl Into<String>) -> Self {
        GenAiSpan {
            response_model: Some(model.into()),
            ..self
        }
    }

    /// `gen_ai.response.finish_reasons` (string array, one per choice).
    pub fn with_finish_reasons<I, S>(self, reasons: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        GenAiSpan {
            finish_reasons: reasons.into_iter().map(Into::into).collect(),
            ..self
        }
    }

    /// `gen_ai.usage.input_tokens` and `gen_ai.usage.output_tokens` (ints).
    pub fn with_usage(self, usage: TokenUsage) -> Self {
        GenAiSpan {
            usage: Some(usage),
            ..self
        }
    }

    /// The attributes, in a stable order.
    #[must_use]
    pub fn build(&self) -> Vec<KeyValue> {
        let mut out = vec![
            KeyValue::new(a::GEN_AI_OPERATION_NAME, self.operation.clone()),
            KeyValue::new(a::GEN_AI_PROVIDER_NAME, self.provider.clone()),
        ];
        if self.legacy_system {
            #[allow(deprecated)]
            out.push(KeyValue::new(a::GEN_AI_SYSTEM, self.provider.clone()));
        }
        push(
            &mut out,
            a::GEN_AI_REQUEST_MODEL,
            self.request_model.clone(),
        );
        push(&mut out, a::GEN_AI_REQUEST_MAX_TOKENS, self.max_tokens);
        push(&mut out, a::GEN_AI_REQUEST_TEMPERATURE, self.temperature);
        push(&mut out, a::GEN_AI_REQUEST_TOP_P, self.top_p);
        push(&mut out, a::GEN_AI_RESPONSE_ID, self.response_id.clone());
        push(
            &mut out,
            a::GEN_AI_RESPONSE_MODEL,
            self.response_model.clone(),
        );
        if !self.finish_reasons.is_empty() {
            out.push(KeyValue::new(
                a::GEN_AI_RESPONSE_FINISH_REASONS,
                string_array(&self.finish_reasons),
            ));
        }
        if let Some(u) = self.usage {
            out.push(KeyValue::new(a::GEN_AI_USAGE_INPUT_TOKENS, u.input_tokens));
            out.push(KeyValue::new(
                a::GEN_AI_USAGE_OUTPUT_TOKENS,
                u.output_tokens,
            ));
        }
        out
    }
}

/// A string-array value.
fn string_array(values: &[String]) -> AnyValue {
    AnyValue::new(Value::ArrayValue(ArrayValue {
        values: values.iter().map(|v| AnyValue::from(v.clone())).collect(),
    }))
}
