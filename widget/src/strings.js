/**
 * Every text the visitor reads, in English and Russian. "{name}" marks a value filled in by
 * `translator`. The loader only imports LAUNCHER_TEXT, so the chat's texts stay out of
 * widget.js.
 */

/** The launcher's labels (widget.js). */
export const LAUNCHER_TEXT = {
  en: { open: "Open chat", close: "Close chat", unread: "unread messages" },
  ru: { open: "Открыть чат", close: "Закрыть чат", unread: "непрочитанных сообщений" },
};

/** The chat window's texts (widget-app.js). */
export const CHAT_TEXT = {
  en: {
    title: "Chat with us",
    online: "We are online",
    offline: "We are offline",
    close: "Close chat",
    log: "Messages",
    input: "Your message",
    placeholder: "Write a message…",
    send: "Send",
    attach: "Attach a file",
    limits: "Files up to {size}: {types}",
    tooLarge: "“{name}” was not sent: it is larger than {size}.",
    badType: "“{name}” was not sent: files of this type are not accepted. Allowed: {types}.",
    noUpload: "“{name}” could not be uploaded.",
    throttled: "Too many messages in a row. Sending again in {n} s.",
    busy: "Too many requests. Trying again in {n} s.",
    challenge: "Checking that you are not a robot…",
    unavailable: "The chat is not available on this site.",
    typing: "{name} is typing…",
    operator: "Operator",
    you: "You",
    sending: "Sending…",
    retrying: "Not sent yet, retrying…",
    failed: "Not sent",
    sent: "Sent",
    delivered: "Delivered",
    read: "Read",
    privacy: "Privacy policy",
    offlineDefault: "Leave us a message and we will answer by e-mail.",
    name: "Your name",
    email: "E-mail",
    message: "Message",
    thanks: "Thank you! We will answer at {email}.",
    invalid: "Please check the fields.",
    retry: "Cannot reach the chat. Trying again…",
    s_resolved: "The conversation was marked as resolved",
    s_closed: "The conversation was closed",
    s_open: "The conversation was reopened",
    assigned: "{name} joined the conversation",
    transferred: "The conversation was transferred to a colleague",
    units: ["B", "KB", "MB"],
    phone: "Phone",
    pcIntro: "Before we start, please introduce yourself.",
    pcConsent: "I agree to the processing of my personal data.",
    pcStart: "Start the chat",
    pcNeedConsent: "Please give your consent to start the chat.",
    csatAsk: "How would you rate this conversation?",
    csatOf: "{n} of 5",
    csatComment: "A comment (optional)",
    csatSend: "Rate",
    csatPick: "Choose from 1 to 5 stars.",
    csatThanks: "Thank you for your rating!",
    identityFailed: "We could not confirm who you are. Please reload the page.",
    trButton: "E-mail me this conversation",
    trSend: "Send",
    trEmail: "Send the transcript to",
    trSent: "Done: the conversation is on its way to your e-mail.",
    trNeed: "Which e-mail address should we send it to?",
    trBad: "Please check the e-mail address.",
    trOff: "Sending by e-mail is not available.",
    trLater: "Too many requests. Please try again later.",
  },
  ru: {
    title: "Напишите нам",
    online: "Мы на связи",
    offline: "Сейчас нас нет в сети",
    close: "Закрыть чат",
    log: "Сообщения",
    input: "Ваше сообщение",
    placeholder: "Напишите сообщение…",
    send: "Отправить",
    attach: "Прикрепить файл",
    limits: "Файлы до {size}: {types}",
    tooLarge: "«{name}» не отправлен: файл больше {size}.",
    badType: "«{name}» не отправлен: такие файлы не принимаются. Можно: {types}.",
    noUpload: "Не удалось загрузить «{name}».",
    throttled: "Слишком много сообщений подряд. Отправим снова через {n} с.",
    busy: "Слишком много запросов. Повторим через {n} с.",
    challenge: "Проверяем, что вы не робот…",
    unavailable: "Чат недоступен на этом сайте.",
    typing: "{name} печатает…",
    operator: "Оператор",
    you: "Вы",
    sending: "Отправляется…",
    retrying: "Ещё не отправлено, повторяем…",
    failed: "Не отправлено",
    sent: "Отправлено",
    delivered: "Доставлено",
    read: "Прочитано",
    privacy: "Политика конфиденциальности",
    offlineDefault: "Оставьте сообщение, и мы ответим по электронной почте.",
    name: "Ваше имя",
    email: "Эл. почта",
    message: "Сообщение",
    thanks: "Спасибо! Мы ответим на {email}.",
    invalid: "Проверьте, пожалуйста, поля.",
    retry: "Нет связи с чатом. Пробуем снова…",
    s_resolved: "Диалог отмечен как решённый",
    s_closed: "Диалог закрыт",
    s_open: "Диалог снова открыт",
    assigned: "{name} подключается к диалогу",
    transferred: "Диалог передан коллеге",
    units: ["Б", "КБ", "МБ"],
    phone: "Телефон",
    pcIntro: "Прежде чем начать, представьтесь, пожалуйста.",
    pcConsent: "Я согласен на обработку персональных данных.",
    pcStart: "Начать чат",
    pcNeedConsent: "Чтобы начать чат, дайте, пожалуйста, согласие.",
    csatAsk: "Как вы оцените этот диалог?",
    csatOf: "{n} из 5",
    csatComment: "Комментарий (необязательно)",
    csatSend: "Оценить",
    csatPick: "Выберите от 1 до 5 звёзд.",
    csatThanks: "Спасибо за оценку!",
    identityFailed: "Не удалось подтвердить, кто вы. Обновите, пожалуйста, страницу.",
    trButton: "Отправить переписку на почту",
    trSend: "Отправить",
    trEmail: "Куда отправить переписку",
    trSent: "Готово: переписка отправлена вам на почту.",
    trNeed: "На какой адрес эл. почты её отправить?",
    trBad: "Проверьте, пожалуйста, адрес эл. почты.",
    trOff: "Отправка по почте недоступна.",
    trLater: "Слишком много запросов. Попробуйте позже.",
  },
};

/** The widget's language for a stored or browser language tag: Russian or else English. */
export function pickLang(tag) {
  return /^ru/i.test(tag || "") ? "ru" : "en";
}

/** The texts of `lang` (English when unknown). */
export function textsOf(lang) {
  return CHAT_TEXT[lang] || CHAT_TEXT.en;
}

/** t(key, vars) in the language `getLang()` answers at the time of the call. */
export function translator(getLang) {
  return function t(key, vars) {
    return String(textsOf(getLang())[key]).replace(/\{(\w+)\}/g, (_, name) =>
      vars && vars[name] !== undefined ? vars[name] : ""
    );
  };
}
