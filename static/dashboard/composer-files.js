// Files from the composer (issue 14): a button, drag and drop onto the composer, or paste.
// Each file is uploaded at once to the conversation (the visitor uploads' checks, server side:
// messenger/attachments/staff.py) and listed under the reply; its id goes with the next send
// (the hidden field attachment_ids). A file may be sent alone, without text.
(function () {
  "use strict";

  function composer() {
    return document.getElementById("composer");
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
    } catch {
      return "";
    }
  }

  function idsField(form) {
    return form.querySelector("input[name='attachment_ids']");
  }

  function chips(form) {
    return form.querySelector(".composer-files");
  }

  function say(form, text) {
    var status = form.querySelector(".composer-files-status");
    if (status) {
      status.textContent = text;
    }
  }

  function refresh(form) {
    var ids = Array.prototype.map.call(form.querySelectorAll(".composer-file[data-id]"), function (chip) {
      return chip.getAttribute("data-id");
    });
    idsField(form).value = ids.join(",");
    var body = form.querySelector("textarea[name='body']");
    if (body) {
      body.required = ids.length === 0; // a file may go alone
    }
  }

  function addChip(form, uploaded) {
    var chip = document.createElement("span");
    chip.className = "composer-file tag";
    chip.setAttribute("data-id", uploaded.id);
    var name = document.createElement("span");
    name.textContent = "📎 " + uploaded.filename;
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link";
    remove.textContent = "×";
    remove.setAttribute("aria-label", (form.getAttribute("data-remove-label") || "") + " " + uploaded.filename);
    remove.addEventListener("click", function () {
      chip.remove();
      refresh(form);
    });
    chip.appendChild(name);
    chip.appendChild(remove);
    chips(form).appendChild(chip);
    refresh(form);
  }

  function upload(form, file) {
    var url = form.getAttribute("data-upload-url");
    if (!url || !file) {
      return;
    }
    var data = new FormData();
    data.append("file", file, file.name || "file");
    say(form, (form.getAttribute("data-uploading-label") || "") + " " + (file.name || ""));
    fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "x-csrftoken": csrfToken(), Accept: "application/json" },
    })
      .then(function (answer) {
        return answer.json().then(
          function (json) {
            return { ok: answer.ok, json: json };
          },
          function () {
            return { ok: false, json: {} };
          }
        );
      })
      .then(function (result) {
        if (result.ok && result.json.id) {
          say(form, "");
          addChip(form, result.json);
        } else {
          say(form, result.json.detail || form.getAttribute("data-upload-failed") || "");
        }
      })
      .catch(function () {
        say(form, form.getAttribute("data-upload-failed") || "");
      });
  }

  function uploadAll(form, files) {
    Array.prototype.forEach.call(files || [], function (file) {
      upload(form, file);
    });
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input && input.id === "composer-file" && input.form) {
      uploadAll(input.form, input.files);
      input.value = "";
    }
  });

  document.addEventListener("paste", function (event) {
    var form = composer();
    var files = event.clipboardData && event.clipboardData.files;
    if (!form || !files || !files.length || !form.contains(event.target)) {
      return;
    }
    event.preventDefault();
    uploadAll(form, files);
  });

  function dropTarget(event) {
    var form = composer();
    return form && event.target && form.contains(event.target) ? form : null;
  }

  document.addEventListener("dragover", function (event) {
    var form = dropTarget(event);
    if (form && event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types || [], "Files") >= 0) {
      event.preventDefault();
      form.classList.add("dropping");
    }
  });

  document.addEventListener("dragleave", function (event) {
    var form = dropTarget(event);
    if (form && !form.contains(event.relatedTarget)) {
      form.classList.remove("dropping");
    }
  });

  document.addEventListener("drop", function (event) {
    var form = dropTarget(event);
    if (!form || !event.dataTransfer || !event.dataTransfer.files.length) {
      return;
    }
    event.preventDefault();
    form.classList.remove("dropping");
    uploadAll(form, event.dataTransfer.files);
  });

  // After a successful send the files are gone with the message.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form && form.id === "composer" && event.detail.successful) {
      var list = chips(form);
      if (list) {
        list.textContent = "";
      }
      refresh(form);
    }
  });
})();
