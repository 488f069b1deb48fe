//! The user interface's own words in every language it speaks.
//!
//! One [`Strings`] table per language, so a string missing in one language
//! does not compile. Lessons carry their own translations (`lesson.rs`);
//! the dissection model's field labels and explanations are Wireshark's
//! vocabulary and stay in English.

use crate::lesson::Lang;

/// Every fixed string of the terminal UI and the lesson list.
pub struct Strings {
    pub packets: &'static str,
    pub reading: &'static str,
    pub stack: &'static str,
    pub fields: &'static str,
    pub bytes: &'static str,
    pub ladder: &'static str,
    pub messages: &'static str,
    pub unmasking: &'static str,
    pub handshake: &'static str,
    pub walk: &'static str,
    pub compare: &'static str,
    pub status_compare: &'static str,
    pub narration: &'static str,
    pub frame_of: &'static str,
    pub following: &'static str,
    pub indexing: &'static str,
    /// The title once every frame is listed, while they are decoded.
    pub decoding: &'static str,
    pub frames: &'static str,
    pub tab_switches: &'static str,
    pub too_small: &'static str,
    pub too_small_hint: &'static str,
    pub keys_title: &'static str,
    /// What each line of the help table does, in `keymap::HELP_KEYS` order.
    pub help: [&'static str; keymap_len::HELP],
    pub status_main: &'static str,
    pub status_ladder: &'static str,
    pub status_messages: &'static str,
    pub status_unmask: &'static str,
    pub status_handshake: &'static str,
    pub status_walk: &'static str,
    pub status_lesson: &'static str,
    pub status_presenter: &'static str,
    pub status_picker: &'static str,
    pub status_answer: &'static str,
    pub status_search: &'static str,
    // Lessons.
    pub lessons: &'static str,
    pub lesson: &'static str,
    pub step: &'static str,
    pub questions: &'static str,
    pub question: &'static str,
    pub level: &'static str,
    pub duration: &'static str,
    pub minutes: &'static str,
    pub capture: &'static str,
    pub prerequisites: &'static str,
    pub goals: &'static str,
    pub none: &'static str,
    pub right: &'static str,
    pub wrong: &'static str,
    pub you_said: &'static str,
    pub type_answer: &'static str,
    pub choose_answer: &'static str,
    pub your_answer: &'static str,
    pub answer_prompt: &'static str,
    pub last_step: &'static str,
    pub first_step: &'static str,
    pub lesson_done: &'static str,
    pub no_lessons: &'static str,
    pub open_lesson: &'static str,
    pub steps: &'static str,
    pub number: &'static str,
    pub title: &'static str,
    /// The stack pane while the selected frame's connection is replayed.
    pub replaying: &'static str,
    /// The stack pane while the decoding has not reached the selected frame.
    pub waiting: &'static str,
    // Notices in the status line.
    pub n_playback_end: &'static str,
    pub n_theme: &'static str,
    pub n_playing: &'static str,
    pub n_paused: &'static str,
    pub n_pace: &'static str,
    pub n_all_frames: &'static str,
    pub n_no_tcp: &'static str,
    pub n_following: &'static str,
    pub n_no_search: &'static str,
    pub n_found: &'static str,
    pub n_not_found: &'static str,
    /// A search going on at the next ticks.
    pub n_searching: &'static str,
    pub n_all_here: &'static str,
    pub n_part: &'static str,
    pub n_carried: &'static str,
}

/// Sizes shared by the key table and the strings.
pub mod keymap_len {
    /// Lines of the help overlay.
    pub const HELP: usize = 32;
}

const EN: Strings = Strings {
    packets: "Packets",
    reading: "reading…",
    stack: "OSI stack",
    fields: "Fields",
    bytes: "Bytes",
    ladder: "TCP ladder",
    messages: "WebSocket messages",
    unmasking: "Unmasking",
    handshake: "Handshake check",
    walk: "Encapsulation walk",
    compare: "Delivery compared",
    status_compare: "j/k choose a technique  Enter go to its frames  Esc back  ? help",
    narration: "Lesson",
    frame_of: "frame {n} of {total}",
    following: "following tcp.stream {n}",
    indexing: "indexing",
    decoding: "decoding",
    frames: "frames",
    tab_switches: "Tab switches",
    too_small: "osiscope: terminal too small",
    too_small_hint: "enlarge it, or q to quit",
    keys_title: "Keys · any key closes",
    help: [
        "move in the focused pane",
        "previous / next layer (hex: byte)",
        "next / previous frame",
        "next / previous frame of this connection",
        "page down / up, first, last",
        "next / previous pane",
        "expand field · jump to message frames",
        "play / pause stepping",
        "step faster / slower",
        "follow this connection (again: all frames)",
        "search; then ] [ for next / previous match",
        "ladder of this TCP connection",
        "WebSocket messages as a chat",
        "unmasking of this WebSocket frame",
        "handshake check (Sec-WebSocket-Accept)",
        "encapsulation walk (send L7→L1, receive L1→L7)",
        "compare polling, long polling, SSE, WebSocket",
        "jump to a frame a reassembled PDU came from",
        "next colour theme",
        "live: follow the newest frame (G too)",
        "live: pause / resume the list",
        "live: save the kept frames (pcapng)",
        "lesson: next / previous step; scroll its text",
        "lesson: answer a question (a: type a value)",
        "lessons: the list",
        "lesson: presenter mode for a projector",
        "back to the main screen",
        "this help",
        "quit",
        "click to select, wheel to scroll",
        "",
        "Frames are numbered from 1, as in Wireshark.",
    ],
    status_main: "? help  q quit  n/p frame  N/P in connection  Tab pane  Enter expand  / search  f follow  L ladder  m msgs  u unmask  s handshake  w walk  Space play",
    status_ladder: "j/k step in this connection  n/p any frame  Esc back  ? help",
    status_messages: "j/k choose a message  Enter jump to its frames  Esc back  ? help",
    status_unmask: "j/k scroll  h/l frame  Esc back  ? help",
    status_handshake: "j/k frame  Esc back  ? help",
    status_walk: "l/→ next step  h/← previous step  g/G first/last  n/p frame  Esc back",
    status_lesson: "> next step  < previous  1-9 answer  a type answer  z presenter  o lessons  ? help  q quit",
    status_presenter: "→ Space next step  ← previous  1-9 answer  a type answer  z leave presenter  q quit",
    status_picker: "j/k choose  Enter open the lesson  Esc explore the capture  q quit",
    status_answer: "Enter: answer · Esc: cancel",
    status_search: "Enter: find · Esc: cancel",
    lessons: "Lessons",
    lesson: "Lesson",
    step: "Step",
    questions: "questions",
    question: "Question",
    level: "Level",
    duration: "Duration",
    minutes: "min",
    capture: "Capture",
    prerequisites: "Before this",
    goals: "Goals",
    none: "none",
    right: "✓ Right.",
    wrong: "✗ Not quite.",
    you_said: "you said",
    type_answer: "Press a (or start typing) to answer, Enter to submit.",
    choose_answer: "Press the number of your answer.",
    your_answer: "Your answer",
    answer_prompt: "answer",
    last_step: "this is the last step",
    first_step: "this is the first step",
    lesson_done: "End of the lesson. o: the list of lessons",
    no_lessons: "no lessons found",
    open_lesson: "Enter opens it",
    steps: "steps",
    number: "No.",
    title: "Title",
    replaying: "Decoding frame {n}: replaying tcp.stream {stream} from its start ({fed} of {total} frames)…",
    waiting: "Frame {n} is listed from its own headers; its layers need the frames before it, and the capture is decoded in order: frame {decoded} of {frames} so far. They appear here when the decoding reaches it.",
    n_playback_end: "playback reached the last frame",
    n_theme: "theme: {name}",
    n_playing: "playing, one frame every {s} s",
    n_paused: "paused",
    n_pace: "pace: one frame every {s} s",
    n_all_frames: "showing every frame",
    n_no_tcp: "this frame belongs to no TCP connection",
    n_following: "following tcp.stream {n}: {count} frames (f again shows all)",
    n_no_search: "no search yet: press / to search",
    n_found: "\"{q}\": frame {n}",
    n_not_found: "\"{q}\": not found",
    n_searching: "\"{q}\": searching… {pct}%",
    n_all_here: "the focused layer's bytes are all in this frame",
    n_part: "frame {frame}: part {i} of {total} of the reassembled bytes",
    n_carried: "message carried by frame(s) {list} (marked •)",
};

const JA: Strings = Strings {
    packets: "パケット",
    reading: "読み込み中…",
    stack: "OSI 階層",
    fields: "フィールド",
    bytes: "バイト",
    ladder: "TCP ラダー図",
    messages: "WebSocket メッセージ",
    unmasking: "マスク解除",
    handshake: "ハンドシェイクの検証",
    walk: "カプセル化の流れ",
    compare: "配信方式の比較",
    status_compare: "j/k 方式を選択  Enter そのフレームへ  Esc 戻る  ? ヘルプ",
    narration: "レッスン",
    frame_of: "フレーム {n} / {total}",
    following: "tcp.stream {n} を追跡中",
    indexing: "索引作成中",
    decoding: "解析中",
    frames: "フレーム",
    tab_switches: "Tab で切替",
    too_small: "osiscope: 端末が小さすぎます",
    too_small_hint: "端末を広げるか、q で終了",
    keys_title: "キー操作 · 何かキーで閉じる",
    help: [
        "選択中のペイン内を移動",
        "前 / 次の層（バイト表示ではバイト）",
        "次 / 前のフレーム",
        "この接続の次 / 前のフレーム",
        "ページ送り / 戻し、先頭、末尾",
        "次 / 前のペイン",
        "フィールドを開閉 · メッセージのフレームへ移動",
        "自動送りの再生 / 一時停止",
        "自動送りを速く / 遅く",
        "この接続だけを表示（もう一度で全フレーム）",
        "検索（] [ で次 / 前の一致）",
        "この TCP 接続のラダー図",
        "WebSocket メッセージをチャット形式で",
        "この WebSocket フレームのマスク解除",
        "ハンドシェイクの検証（Sec-WebSocket-Accept）",
        "カプセル化（送信 L7→L1、受信 L1→L7）",
        "ポーリング・ロングポーリング・SSE・WebSocket の比較",
        "再構成された PDU の元フレームへ移動",
        "次の配色",
        "ライブ：最新のフレームを追う（G でも）",
        "ライブ：一覧の一時停止 / 再開",
        "ライブ：保持しているフレームを保存（pcapng）",
        "レッスン：次 / 前のステップ、本文のスクロール",
        "レッスン：問題に答える（a で値を入力）",
        "レッスン一覧",
        "レッスン：プロジェクター用の発表モード",
        "メイン画面に戻る",
        "このヘルプ",
        "終了",
        "クリックで選択、ホイールでスクロール",
        "",
        "フレーム番号は Wireshark と同じく 1 から始まります。",
    ],
    status_main: "? ヘルプ  q 終了  n/p フレーム  N/P 接続内  Tab ペイン  Enter 開閉  / 検索  f 追跡  L ラダー  m メッセージ  u マスク  s ハンドシェイク  w カプセル化  Space 再生",
    status_ladder: "j/k この接続内で移動  n/p 全フレーム  Esc 戻る  ? ヘルプ",
    status_messages: "j/k メッセージを選択  Enter そのフレームへ  Esc 戻る  ? ヘルプ",
    status_unmask: "j/k スクロール  h/l フレーム  Esc 戻る  ? ヘルプ",
    status_handshake: "j/k フレーム  Esc 戻る  ? ヘルプ",
    status_walk: "l/→ 次の段階  h/← 前の段階  g/G 最初/最後  n/p フレーム  Esc 戻る",
    status_lesson: "> 次のステップ  < 前へ  1-9 解答  a 値を入力  z 発表モード  o 一覧  ? ヘルプ  q 終了",
    status_presenter: "→ Space 次のステップ  ← 前へ  1-9 解答  a 値を入力  z 発表モード終了  q 終了",
    status_picker: "j/k 選択  Enter レッスンを開く  Esc キャプチャを自由に見る  q 終了",
    status_answer: "Enter: 解答 · Esc: 取消",
    status_search: "Enter: 検索 · Esc: 取消",
    lessons: "レッスン一覧",
    lesson: "レッスン",
    step: "ステップ",
    questions: "問",
    question: "問題",
    level: "レベル",
    duration: "所要時間",
    minutes: "分",
    capture: "キャプチャ",
    prerequisites: "事前に",
    goals: "学習目標",
    none: "なし",
    right: "✓ 正解です。",
    wrong: "✗ 違います。",
    you_said: "あなたの答え",
    type_answer: "a を押す（または入力を始める）と解答、Enter で送信。",
    choose_answer: "答えの番号を押してください。",
    your_answer: "あなたの答え",
    answer_prompt: "解答",
    last_step: "最後のステップです",
    first_step: "最初のステップです",
    lesson_done: "レッスンの終わりです。o: レッスン一覧",
    no_lessons: "レッスンが見つかりません",
    open_lesson: "Enter で開く",
    steps: "ステップ",
    number: "番号",
    title: "題名",
    replaying: "フレーム {n} を解析中: tcp.stream {stream} を最初から再生しています ({total} フレーム中 {fed})…",
    waiting: "フレーム {n} は自身のヘッダーから一覧に載せています。各層の解析にはそれ以前のフレームが必要で、キャプチャは先頭から順に解析中です (現在 {frames} フレーム中 {decoded})。解析がこのフレームに達するとここに表示されます。",
    n_playback_end: "再生が最後のフレームに達しました",
    n_theme: "配色: {name}",
    n_playing: "再生中: {s} 秒ごとに 1 フレーム",
    n_paused: "一時停止",
    n_pace: "速さ: {s} 秒ごとに 1 フレーム",
    n_all_frames: "すべてのフレームを表示",
    n_no_tcp: "このフレームはどの TCP 接続にも属していません",
    n_following: "tcp.stream {n} を追跡: {count} フレーム（もう一度 f で全表示）",
    n_no_search: "まだ検索していません: / で検索",
    n_found: "\"{q}\": フレーム {n}",
    n_not_found: "\"{q}\": 見つかりません",
    n_searching: "\"{q}\": 検索中… {pct}%",
    n_all_here: "この層のバイトはすべてこのフレームにあります",
    n_part: "フレーム {frame}: 再構成されたバイトの {total} 個中 {i} 番目",
    n_carried: "このメッセージを運んだフレーム: {list}（• 印）",
};

/// The strings of a language.
pub fn strings(lang: Lang) -> &'static Strings {
    match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}

/// Fills `{name}` placeholders in one pass (a value is never read again
/// as a placeholder).
pub fn fill(template: &str, pairs: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(rest.get(..open).unwrap_or(""));
        let after = rest.get(open + 1..).unwrap_or("");
        let value = after.find('}').and_then(|close| {
            let name = after.get(..close)?;
            let value = pairs.iter().find(|(n, _)| *n == name)?.1;
            Some((value.to_string(), close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(&value);
                rest = after.get(close + 1..).unwrap_or("");
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_help_line_and_placeholders_fill() {
        for lang in Lang::ALL {
            let s = strings(lang);
            assert_eq!(s.help.len(), keymap_len::HELP);
            assert!(s.frame_of.contains("{n}") && s.frame_of.contains("{total}"));
            assert!(s.following.contains("{n}"));
        }
        assert_eq!(
            fill(JA.frame_of, &[("n", &3), ("total", &20)]),
            "フレーム 3 / 20"
        );
        assert_eq!(
            fill(EN.n_found, &[("q", &"{n}"), ("n", &4)]),
            "\"{n}\": frame 4"
        );
        assert_eq!(fill("{x} {", &[]), "{x} {");
    }
}
